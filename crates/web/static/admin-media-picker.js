// The post editor's media picker: an "Insert" button beside each recent upload that puts its
// Markdown in the text at the cursor. Without this script the list shows the Markdown to copy.
(function () {
  var form = document.getElementById("post-editor");
  var picker = document.getElementById("media-picker");
  if (!form || !picker) return;
  var source = form.elements["source"];
  if (!source) return;
  var items = picker.querySelectorAll("li[data-markdown]");
  Array.prototype.forEach.call(items, function (item) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Insert";
    button.addEventListener("click", function () {
      var markdown = item.getAttribute("data-markdown");
      var start = source.selectionStart;
      var end = source.selectionEnd;
      if (typeof start !== "number") start = end = source.value.length;
      var before = source.value.slice(0, start);
      var after = source.value.slice(end);
      // On a line of its own, so that it renders as an image paragraph.
      var lead = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
      var trail = after && !/^\n/.test(after) ? "\n\n" : "\n";
      var text = lead + markdown + trail;
      source.value = before + text + after;
      var caret = before.length + text.length;
      source.focus();
      source.setSelectionRange(caret, caret);
      // Let the live preview (admin-editor.js) see the change.
      source.dispatchEvent(new Event("input", { bubbles: true }));
    });
    item.appendChild(document.createTextNode(" "));
    item.appendChild(button);
  });
})();
