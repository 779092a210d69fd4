// Starts Swagger UI on /docs from the pinned bundle served by the API itself (no CDN, no
// inline script: the page runs under the same CSP as every other response).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
