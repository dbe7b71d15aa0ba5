// The API reference at /docs: Swagger UI (vendored, see README.md here) over this
// server's own OpenAPI document. A file of its own because the page's policy allows no
// inline script; nothing is loaded from anywhere else (no validator badge, no CDN).
window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  persistAuthorization: false,
  defaultModelsExpandDepth: 0,
});
