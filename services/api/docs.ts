/** Swagger UI page served at /api/docs; assets come from swagger-ui-dist, no inline script (CSP). */
export function swaggerUiHtml(assetsPath: string, initScript: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Moleculer Shop API</title>
  <link rel="stylesheet" href="${assetsPath}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${assetsPath}/swagger-ui-bundle.js"></script>
  <script src="${initScript}"></script>
</body>
</html>
`;
}

export function swaggerUiInit(specUrl: string): string {
  return `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: "#swagger-ui", deepLinking: true });\n`;
}
