// Live preview for the post editor: sends the Markdown to /admin/preview as the author
// types and shows the result. Without this script the editor saves just the same.
(function () {
  var form = document.getElementById("post-editor");
  var output = document.getElementById("preview");
  if (!form || !output || !window.fetch) return;
  var source = form.elements["source"];
  var token = form.elements["_csrf"].value;
  var timer = null;
  function refresh() {
    var body = new URLSearchParams();
    body.set("_csrf", token);
    body.set("source", source.value);
    fetch("/admin/preview", { method: "POST", body: body, credentials: "same-origin" })
      // 422: the text is too long or too complex to render; the answer says so.
      .then(function (r) { return r.ok || r.status === 422 ? r.text() : Promise.reject(r.status); })
      .then(function (html) { output.innerHTML = html; output.hidden = false; })
      .catch(function () {});
  }
  source.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  refresh();
})();
