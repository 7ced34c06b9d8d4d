// Loads the WebAssembly module and starts the app. Served pages fetch
// anchorage_web_bg.wasm; an exported site opened from disk (file://, where
// browsers refuse fetch) finds the module in window.ANCHORAGE_WASM instead.
(function () {
  "use strict";
  var boot = document.getElementById("boot");
  function fail(err) {
    boot.className = "boot failed";
    boot.textContent = "Anchorage could not start (" + err + "). " +
      "It needs a current browser with WebAssembly turned on.";
  }
  var source = "anchorage_web_bg.wasm";
  if (window.ANCHORAGE_WASM) {
    var text = atob(window.ANCHORAGE_WASM);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    source = bytes;
  }
  if (typeof wasm_bindgen !== "function") {
    fail("anchorage_web.js did not load");
    return;
  }
  wasm_bindgen({ module_or_path: source }).then(function () {
    boot.remove();
  }, fail);
})();
