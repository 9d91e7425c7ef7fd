// The console's service worker (scope /lieu/): keeps the console page, its scripts, style and
// icon so that /lieu/console opens without a connection. Network first: online, the page is
// always the server's (and the copy kept is replaced); offline, the copy kept is served. Nothing
// else is kept here: the keys and the list of cancelled cheques are the console's (static/console.js).
'use strict';

var CACHE = 'passnum-console-v1';
var PAGE = '/lieu/console';
var KEPT = [
  PAGE,
  '/static/console.js',
  '/static/scan.js',
  '/static/style.css',
  '/lieu/manifest.webmanifest',
  '/lieu/icone.svg'
];

// Keeps a fresh answer; a page that is no longer the console (signed out: a redirection) is
// not kept, and the copy of another person's page is dropped.
function keep(cache, path, response) {
  if (response.ok && response.type === 'basic' && !response.redirected) {
    return cache.put(path, response);
  }
  return path === PAGE ? cache.delete(path) : Promise.resolve();
}

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(KEPT.map(function (path) {
      return fetch(path, { credentials: 'same-origin', redirect: 'manual', cache: 'no-store' })
        .then(function (response) { return keep(cache, path, response); })
        .catch(function () { return undefined; });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf('passnum-console-') === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || KEPT.indexOf(url.pathname) < 0) { return; }
  var path = url.pathname;
  event.respondWith(fetch(request).then(function (response) {
    var copy = response.clone();
    event.waitUntil(caches.open(CACHE).then(function (cache) { return keep(cache, path, copy); }));
    return response;
  }, function (failure) {
    return caches.open(CACHE)
      .then(function (cache) { return cache.match(path); })
      .then(function (kept) {
        if (kept) { return kept; }
        throw failure;
      });
  }));
});
