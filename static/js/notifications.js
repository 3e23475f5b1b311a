/* The Notifications page: turn push notifications on or off for this browser.
   Registers the service worker (/sw.js), asks permission, subscribes with the site's
   VAPID public key and posts the subscription to the server (session + CSRF token).
   Loaded from static/ only: the site's Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  var panel = document.getElementById("push-panel");
  if (!panel) { return; }
  var state = document.getElementById("push-state");
  var enable = document.getElementById("push-enable");
  var disable = document.getElementById("push-disable");

  function say(text, warn) {
    state.textContent = text;
    state.classList.toggle("notice-warn", Boolean(warn));
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var index = 0; index < raw.length; index += 1) { bytes[index] = raw.charCodeAt(index); }
    return bytes;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) { return response; }
      return response.json().catch(function () { return {}; }).then(function (answer) {
        var message = (answer.error && answer.error.message) || ("HTTP " + response.status);
        var fields = (answer.error && answer.error.fields) || {};
        Object.keys(fields).forEach(function (name) { message += " " + fields[name].join(" "); });
        throw new Error(message);
      });
    });
  }

  /* A subscription made under an older VAPID key gets nothing any more: replace it. */
  function sameKey(subscription) {
    var current = subscription.options && subscription.options.applicationServerKey;
    if (!current) { return true; }
    var got = new Uint8Array(current);
    var expected = keyBytes(panel.dataset.vapidKey);
    if (got.length !== expected.length) { return false; }
    for (var index = 0; index < got.length; index += 1) {
      if (got[index] !== expected[index]) { return false; }
    }
    return true;
  }

  function subscribeHere(ready) {
    return ready.pushManager.getSubscription().then(function (existing) {
      if (existing && sameKey(existing)) { return existing; }
      return (existing ? existing.unsubscribe() : Promise.resolve()).then(function () {
        return ready.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(panel.dataset.vapidKey)
        });
      });
    });
  }

  function show(subscribed) {
    enable.hidden = subscribed;
    disable.hidden = !subscribed;
    say(subscribed ? "Notifications are on for this device." : "Notifications are off for this device.");
  }

  function registration() {
    return navigator.serviceWorker.register(panel.dataset.workerUrl, { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  function turnOn() {
    enable.disabled = true;
    say("Asking for permission…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error("Notifications are blocked for this site: allow them in the browser's site settings.");
      }
      return registration();
    }).then(subscribeHere).then(function (subscription) {
      return post(panel.dataset.subscribeUrl, subscription.toJSON());
    }).then(function () {
      window.location.reload();
    }).catch(function (error) {
      say("Could not turn notifications on: " + error.message, true);
    }).then(function () {
      enable.disabled = false;
    });
  }

  function turnOff() {
    disable.disabled = true;
    registration().then(function (ready) {
      return ready.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) { return null; }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post(panel.dataset.unsubscribeUrl, { endpoint: endpoint }).catch(function () { return null; });
      });
    }).then(function () {
      window.location.reload();
    }).catch(function (error) {
      say("Could not turn notifications off: " + error.message, true);
      disable.disabled = false;
    });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot receive push notifications. Choose texts or email below.", true);
    return;
  }
  enable.addEventListener("click", turnOn);
  disable.addEventListener("click", turnOff);
  registration().then(function (ready) {
    return ready.pushManager.getSubscription().then(function (subscription) {
      if (!subscription || Notification.permission !== "granted") { return null; }
      return subscribeHere(ready);
    });
  }).then(function (subscription) {
    if (subscription) {
      // Keep the server's copy current (a browser renews its subscription now and then).
      return post(panel.dataset.subscribeUrl, subscription.toJSON()).then(function () { show(true); });
    }
    show(false);
    return null;
  }).catch(function (error) {
    show(false);
    say("Service worker not available: " + error.message, true);
  });
}());
