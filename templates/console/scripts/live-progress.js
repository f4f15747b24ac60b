// Alert page: live progress over server-sent events. The numbers update in place; when the set
// of channels, the failures or the alert's status change, the delivery section (and the stop,
// correct and retract controls above it) is fetched again.
(function () {
  var root = document.getElementById('delivery');
  if (!root || !window.EventSource || !window.fetch) return;
  var alertId = root.getAttribute('data-alert');
  var announcer = document.getElementById('live-announcer');
  var statusHolder = document.getElementById('alert-status');
  var FIELDS = ['done', 'total', 'queued', 'sending', 'retrying', 'sent', 'failed', 'unknown', 'skipped', 'rateText', 'etaText'];
  var SEGMENTS = ['sent', 'failed', 'unknown', 'skipped', 'sending'];
  var ICONS = { draft: '✎', approved: '✔', scheduled: '⏲', publishing: '⟳', halted: '‖', published: '✔', corrected: '✎', retracted: '⊘' };
  var seen = { problems: root.getAttribute('data-problems'), channels: root.getAttribute('data-channels'), status: root.getAttribute('data-status') };
  var wasComplete = null;
  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    var controls = document.getElementById('follow-up-controls');
    var active = document.activeElement;
    var focusedId = active && (root.contains(active) || (controls && controls.contains(active))) ? active.id : '';
    fetch('/console/alerts/' + encodeURIComponent(alertId) + '/delivery', { credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.text();
      })
      .then(function (html) {
        var holder = document.createElement('div');
        holder.innerHTML = html;
        var fresh = holder.querySelector('#delivery');
        if (!fresh) return;
        root.replaceWith(fresh);
        root = fresh;
        // Stop sending, the halt and the correction or retraction notices change with the delivery.
        var freshControls = holder.querySelector('#follow-up-controls');
        if (freshControls && controls) controls.replaceWith(freshControls);
        if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function setStatus(status) {
    if (!statusHolder) return;
    var label = status.charAt(0).toUpperCase() + status.slice(1);
    statusHolder.innerHTML = '';
    var chip = document.createElement('span');
    chip.className = 'chip chip-' + status;
    chip.setAttribute('data-status', status);
    var icon = document.createElement('span');
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = (ICONS[status] || '•') + ' ';
    chip.appendChild(icon);
    chip.appendChild(document.createTextNode(label));
    statusHolder.appendChild(chip);
  }

  var source = new EventSource('/console/alerts/' + encodeURIComponent(alertId) + '/events');
  source.addEventListener('progress', function (event) {
    var data = JSON.parse(event.data);
    var channels = data.channels
      .map(function (c) {
        return c.channel + ' ';
      })
      .join('');
    var problems = data.counts.totals.failed + '-' + data.counts.totals.unknown;
    if (data.status !== seen.status) setStatus(data.status);
    if (channels !== seen.channels || problems !== seen.problems || data.status !== seen.status) {
      seen = { problems: problems, channels: channels, status: data.status };
      refresh();
    }
    data.channels.forEach(function (c) {
      var section = root.querySelector('[data-channel="' + CSS.escape(c.channel) + '"]');
      if (!section) return;
      section.querySelector('[data-field="percent"]').textContent = c.percent + '%';
      FIELDS.forEach(function (f) {
        var el = section.querySelector('[data-field="' + f + '"]');
        if (el) el.textContent = String(c[f]);
      });
      var bar = section.querySelector('progress');
      if (bar) {
        bar.max = c.total || 1;
        bar.value = c.done;
        bar.textContent = c.percent + '%';
      }
      SEGMENTS.forEach(function (s) {
        var seg = section.querySelector('[data-seg="' + s + '"]');
        if (seg) seg.style.width = (c.total ? (c[s] * 100) / c.total : 0) + '%';
      });
    });
    ['sent', 'failed', 'unknown', 'skipped', 'total'].forEach(function (t) {
      var el = root.querySelector('[data-total="' + t + '"]');
      if (el) el.textContent = String(data.counts.totals[t]);
    });
    if (data.complete !== wasComplete) {
      if (wasComplete === false && data.complete && announcer) {
        var t = data.counts.totals;
        // The newest version with deliveries is the one that just finished ("Version 2 (correction)").
        var newest = data.channels.reduce(
          function (v, c) {
            return c.version > v.version ? c : v;
          },
          { version: 1, versionLabel: '' },
        );
        var what = data.status === 'halted' ? 'Sending halted' : newest.version > 1 ? newest.versionLabel + ' complete' : 'Publication complete';
        announcer.textContent = what + ': ' + t.sent + ' sent, ' + t.failed + ' failed, ' + t.unknown + ' unknown, ' + t.skipped + ' skipped.';
      }
      if (wasComplete !== null) refresh();
      wasComplete = data.complete;
    }
  });
})();
