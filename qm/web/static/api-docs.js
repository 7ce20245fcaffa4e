// Starts Swagger UI on /schema. Kept out of the page so that the Content-Security-Policy
// can forbid inline scripts; settings come from data- attributes on the container.
(function () {
  "use strict";
  var container = document.getElementById("swagger-container");
  var csrfCookie = container.dataset.csrfCookie;
  var csrfHeader = container.dataset.csrfHeader;

  function cookie(name) {
    var found = document.cookie.split("; ").find(function (part) {
      return part.indexOf(name + "=") === 0;
    });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
  }

  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // "Try it out" from a signed-in browser: send the CSRF token like our forms do.
    requestInterceptor: function (request) {
      var token = cookie(csrfCookie);
      if (token !== undefined) {
        request.headers[csrfHeader] = token;
      }
      return request;
    },
  });
})();
