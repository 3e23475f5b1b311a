/* Lead desk service worker: notifications for pushed alerts, and the app shell offline.
   Served at /sw.js (scope: the whole site). */
"use strict";

var CACHE_NAME = "{{ cache_name }}";
var SHELL_URLS = {{ shell_urls|safe }};
var OFFLINE_URL = {{ offline_url|safe }};
var ICON_URL = {{ icon_url|safe }};
var BADGE_URL = {{ badge_url|safe }};
var CLAIM_PATH = {{ claim_path|safe }};
var MAX_ACTIONS = {{ max_actions }};

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE_NAME)
      .then(function (cache) { return cache.addAll(SHELL_URLS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf("lead-desk-shell-") === 0 && name !== CACHE_NAME;
        }).map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

/* Static files: from the cache, else the network. Pages: the network, else the offline
   page. Nothing else is cached: lead data stays on the server. */
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE_URL); }));
  }
});

function actionsOf(alert) {
  var actions = Array.isArray(alert.actions) ? alert.actions : [];
  return actions.map(function (action) {
    var target = action.url;
    if (action.action === "claim" && !target && alert.lead_id) {
      target = CLAIM_PATH.replace("{lead_id}", encodeURIComponent(alert.lead_id));
    }
    return { action: String(action.action), title: String(action.title), url: target };
  });
}

self.addEventListener("push", function (event) {
  var alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch (error) {
    alert = { title: "New lead", body: event.data ? event.data.text() : "" };
  }
  var actions = actionsOf(alert);
  var limit = (self.Notification && Notification.maxActions) || MAX_ACTIONS;
  var options = {
    body: alert.body || "",
    icon: ICON_URL,
    badge: BADGE_URL,
    tag: alert.tag || undefined,
    renotify: Boolean(alert.tag),
    requireInteraction: true,
    data: { url: alert.url || "/", leadId: alert.lead_id || "", actions: actions },
    actions: actions.slice(0, Math.min(limit, MAX_ACTIONS)).map(function (action) {
      return { action: action.action, title: action.title };
    })
  };
  event.waitUntil(self.registration.showNotification(alert.title || "New lead", options));
});

function openOrFocus(target) {
  var absolute = new URL(target, self.location.origin).href;
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var index = 0; index < windows.length; index += 1) {
      if (windows[index].url === absolute && "focus" in windows[index]) {
        return windows[index].focus();
      }
    }
    return self.clients.openWindow(absolute);
  });
}

self.addEventListener("notificationclick", function (event) {
  var data = event.notification.data || {};
  var target = data.url || "/";
  if (event.action) {
    var chosen = (data.actions || []).filter(function (action) { return action.action === event.action; })[0];
    if (chosen && chosen.url) { target = chosen.url; }
  }
  event.notification.close();
  if (target.indexOf("tel:") === 0) {
    event.waitUntil(self.clients.openWindow(target));
    return;
  }
  event.waitUntil(openOrFocus(target));
});
