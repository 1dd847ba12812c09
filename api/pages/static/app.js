// Followup pages: the little script they use. Every page works without it; it adds comfort.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Dates and times in the reader's zone: the server reads this cookie (else its own zone).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("followup_tz=" + zone) === -1) {
      document.cookie = "followup_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* an old browser: the server's zone */ }

  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (csrf) event.detail.headers["X-CSRFToken"] = csrf.content;
  });

  // Buttons that ask first (cancel).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });

  // "All on this page" for batch actions.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (all) {
      var boxes = all.form.querySelectorAll('input[type=checkbox][name="' + all.getAttribute("data-check-all") + '"]');
      boxes.forEach(function (box) { box.checked = all.checked; });
    }
    var reload = event.target.closest("select[data-reload]");
    if (reload) {
      var url = new URL(window.location.href);
      url.searchParams.set(reload.getAttribute("data-reload"), reload.value);
      var customer = reload.form.querySelector('[name="customer"]');
      if (customer && customer.value) url.searchParams.set("customer", customer.value);
      window.location.href = url.toString();
    }
    var file = event.target.closest(".file-pick input[type=file]");
    if (file) {
      var chosen = file.parentNode.querySelector(".chosen");
      var names = Array.prototype.map.call(file.files, function (f) { return f.name; });
      chosen.textContent = names.length ? names.join(", ") : chosen.getAttribute("data-none");
    }
    showIf(event.target.form);
  });

  // Check-in fields shown only for some answers (the template's show_if).
  function showIf(form) {
    if (!form) return;
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      var rule = JSON.parse(box.getAttribute("data-show-if"));
      var inputs = form.querySelectorAll('[name="field.' + rule.field + '"]');
      var values = [];
      inputs.forEach(function (input) {
        if ((input.type !== "checkbox" && input.type !== "radio") || input.checked) values.push(input.value);
      });
      var wanted = "equals" in rule ? [String(rule.equals)] : (rule["in"] || []).map(String);
      var shown = values.some(function (v) { return wanted.indexOf(v) !== -1; });
      box.hidden = !shown;
      if (!shown) box.querySelectorAll("input, select, textarea").forEach(function (input) {
        if (input.type === "checkbox" || input.type === "radio") input.checked = false;
        else if (input.type !== "button") input.value = "";
      });
    });
  }
  document.querySelectorAll("form").forEach(showIf);

  // Check-in: the browser's location into the hidden fields.
  document.querySelectorAll("[data-locate]").forEach(function (box) {
    var name = box.getAttribute("data-locate");
    var status = box.querySelector(".locate-status");
    function set(field, value) { box.querySelector('[name="' + name + "." + field + '"]').value = value; }
    function locate() {
      if (!navigator.geolocation) { status.textContent = status.getAttribute("data-failed"); return; }
      status.textContent = status.getAttribute("data-waiting");
      navigator.geolocation.getCurrentPosition(function (position) {
        set("latitude", position.coords.latitude);
        set("longitude", position.coords.longitude);
        set("accuracy", Math.round(position.coords.accuracy || 0));
        status.textContent = status.getAttribute("data-found").replace("{m}", Math.round(position.coords.accuracy || 0));
      }, function () {
        status.textContent = status.getAttribute("data-failed");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    }
    box.querySelector("button").addEventListener("click", locate);
    if (!box.querySelector('[name="' + name + '.latitude"]').value) locate();
  });
})();
