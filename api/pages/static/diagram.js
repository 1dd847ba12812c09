// Draws the BPMN diagram in #diagram with bpmn-js's NavigatedViewer (vendor/bpmn-js) and marks elements:
// fu-active (where the instance waits), fu-incident (the failed step), fu-problem (a deploy error).
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) return;

  var viewer = null;

  function failed() {
    // e.g. a file without diagram interchange (BPMNDI): say so in a box its own size, not over the legend
    if (viewer) viewer.destroy();
    box.textContent = "";
    var note = document.createElement("p");
    note.className = "empty";
    note.textContent = box.getAttribute("data-failed");
    box.appendChild(note);
    box.setAttribute("data-state", "failed");
  }
  if (!window.BpmnJS) { failed(); return; }

  viewer = new window.BpmnJS({ container: box });

  function mark(ids, marker) {
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    ids.forEach(function (id) {
      if (id && registry.get(id)) canvas.addMarker(id, marker);
    });
  }

  function draw(xml) {
    return viewer.importXML(xml).then(function () {
      viewer.get("canvas").zoom("fit-viewport", "auto");
      mark(JSON.parse(box.getAttribute("data-active") || "[]"), "fu-active");
      mark([box.getAttribute("data-incident")], "fu-incident");
      mark([box.getAttribute("data-problem")], "fu-problem");
      box.setAttribute("data-state", "ready");
    });
  }

  var inline = document.getElementById("diagram-xml");
  var loading = inline
    ? Promise.resolve(JSON.parse(inline.textContent))
    : fetch(box.getAttribute("data-xml-url"), { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      });
  loading.then(draw).catch(failed);
  window.addEventListener("resize", function () { viewer.get("canvas").resized(); });
})();
