// Repeatable rows of the admin editors (scripts, forms, training catalog): "add" clones
// the <template id="PREFIX-template"> with the next row number in place of __N__;
// "remove" drops the row. Without this file each table still has one empty row to fill.
(function () {
  "use strict";

  function nextNumber(container, prefix) {
    var highest = -1;
    var pattern = new RegExp("^" + prefix + "-(\\d+)-");
    container.querySelectorAll("[name]").forEach(function (field) {
      var found = pattern.exec(field.getAttribute("name"));
      if (found) { highest = Math.max(highest, parseInt(found[1], 10)); }
    });
    return highest + 1;
  }

  function addRow(button) {
    var prefix = button.getAttribute("data-add-row");
    var template = document.getElementById(prefix + "-template");
    var container = document.querySelector('[data-rows="' + prefix + '"]');
    if (!template || !container) { return; }
    var n = String(nextNumber(container, prefix));
    var html = template.innerHTML.replace(/__N__/g, n);
    container.insertAdjacentHTML("beforeend", html);
    var added = container.lastElementChild;
    var first = added && added.querySelector("input, textarea, select");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var add = target.closest("[data-add-row]");
    if (add) { event.preventDefault(); addRow(add); return; }
    var remove = target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      var row = remove.closest("[data-row]");
      if (row) { row.remove(); }
    }
  });
})();
