// Compose page: refreshes the preview a moment after typing stops. Without script, the
// "Update preview" button does the same with a full page.
(function () {
  var form = document.getElementById('compose-form');
  var target = document.getElementById('preview-body');
  var status = document.getElementById('preview-status');
  if (!form || !target || !window.fetch || !window.URLSearchParams) return;
  var timer = null;
  var seq = 0;
  function update() {
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (typeof value === 'string') body.append(key, value);
    });
    var mine = ++seq;
    status.textContent = 'Updating the preview…';
    // A correction previews as it will be sent (its own route); anything else as a fresh alert.
    fetch(form.getAttribute('data-preview-url') || '/console/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-tocsin-fragment': '1' },
      body: body.toString(),
    })
      .then(function (response) {
        if (!response.ok) throw new Error('the server answered ' + response.status);
        return response.text();
      })
      .then(function (html) {
        if (mine !== seq) return;
        target.innerHTML = html;
        target.setAttribute('data-updated', String(mine));
        status.textContent = 'Preview updated.';
      })
      .catch(function (err) {
        if (mine === seq) status.textContent = 'The preview could not be updated: ' + err.message;
      });
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 500);
  }
  form.addEventListener('input', later);
  form.addEventListener('change', later);
  var summary = document.getElementById('error-summary');
  if (summary) summary.focus();
})();
