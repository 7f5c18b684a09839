// Progressive enhancement for replies: the "Reply" links work without this script (they
// reload the page with ?replytocom=N#respond); with it, the form moves under the comment.
(function () {
  "use strict";
  var respond = document.getElementById("respond");
  var form = document.getElementById("commentform");
  if (!respond || !form) { return; }
  var parentField = document.getElementById("comment_parent");
  var title = document.getElementById("reply-title");
  var home = document.createElement("div");
  home.id = "respond-home";
  respond.parentNode.insertBefore(home, respond);
  var originalTitle = title ? title.innerHTML : "";

  function cancel(event) {
    if (event) { event.preventDefault(); }
    home.parentNode.insertBefore(respond, home.nextSibling);
    parentField.value = "0";
    if (title) { title.innerHTML = originalTitle; }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".comment-reply-link") : null;
    if (!link) { return; }
    var id = link.getAttribute("data-commentid");
    var body = document.getElementById("div-comment-" + id);
    if (!id || !body) { return; }
    event.preventDefault();
    body.parentNode.insertBefore(respond, body.nextSibling);
    parentField.value = id;
    if (title) {
      var name = link.getAttribute("aria-label") || "Reply";
      title.textContent = name + " ";
      var small = document.createElement("small");
      var cancelLink = document.createElement("a");
      cancelLink.href = "#respond";
      cancelLink.id = "cancel-comment-reply-link";
      cancelLink.textContent = "Cancel reply";
      cancelLink.addEventListener("click", cancel);
      small.appendChild(cancelLink);
      title.appendChild(small);
    }
    var textarea = document.getElementById("comment");
    if (textarea) { textarea.focus(); }
  });
}());
