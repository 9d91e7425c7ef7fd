// The site's console without a connection (/lieu/console), a progressive enhancement: without
// JavaScript the form is sent as on the redemption page. With it, online, the same; and the
// device keeps what it needs to check cheques alone: the published Ed25519 keys, the signed
// list of cancelled cheques (both from /api/v1/public/…), its registration (/lieu/hors-ligne),
// and the places' programmes (the page's data-setup). Offline, a scanned cheque (its PN2 QR
// text) is checked here: signature, not cancelled, last day not past in the place's zone,
// programme accepted at the place; the session is noted on the device under an increasing
// sequence number and sent to /lieu/hors-ligne/synchroniser at the next connection, where the
// server checks everything again and redeems each cheque once. A typed short code can only be
// checked for typos offline: it is noted "à confirmer".
(function () {
  'use strict';
  var root = document.getElementById('console');
  var form = document.getElementById('redeem-form');
  if (!root || !form || !window.localStorage || !window.fetch || !window.Promise) { return; }
  var setup;
  try {
    setup = JSON.parse(root.getAttribute('data-setup'));
  } catch (e) {
    return;
  }
  var csrf = form.querySelector('input[name=csrf]').value;
  var PREFIX = 'passnum-console:' + setup.site_id + ':';
  var ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  var byId = function (id) { return document.getElementById(id); };
  var state = byId('console-state');
  var okBox = byId('console-ok');
  var errorBox = byId('console-error');
  var deviceText = byId('console-device-text');
  var deviceForm = byId('console-device-form');
  var syncButton = byId('console-sync');
  var syncing = false;

  // --- Storage, one key per kind of thing, per site ---------------------------------------

  function load(name, fallback) {
    try {
      var text = localStorage.getItem(PREFIX + name);
      return text === null ? fallback : JSON.parse(text);
    } catch (e) {
      return fallback;
    }
  }

  function save(name, value) {
    if (value === null) {
      localStorage.removeItem(PREFIX + name);
    } else {
      localStorage.setItem(PREFIX + name, JSON.stringify(value));
    }
  }

  // --- Time: the server's clock (seen at the last connection) in the place's zone ---------

  // A device's clock may be wrong: its difference with the server's, measured when the list
  // of cancelled cheques is fetched, corrects the times it notes.
  function now() {
    return Date.now() + (load('skew', 0) || 0);
  }

  function parseServerTime(text) {
    // "2026-03-02T11:00:00.000000Z": at most milliseconds for Date.parse.
    var ms = Date.parse(String(text).replace(/(\.\d{3})\d+/, '$1'));
    return isNaN(ms) ? null : ms;
  }

  function partsIn(ms, zone) {
    var format = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit'
    });
    var parts = {};
    format.formatToParts(new Date(ms)).forEach(function (p) { parts[p.type] = p.value; });
    return parts;
  }

  // "2026-03-07T20:37:00-04:00": the session's time where the place is, with its offset.
  function localIso(ms, zone) {
    var p;
    try {
      p = partsIn(ms, zone);
    } catch (e) {
      p = partsIn(ms, Intl.DateTimeFormat().resolvedOptions().timeZone);
    }
    var second = Math.floor(ms / 1000) * 1000;
    var asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    var offset = Math.round((asUtc - second) / 60000);
    var sign = offset < 0 ? '-' : '+';
    var abs = Math.abs(offset);
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return p.year + '-' + p.month + '-' + p.day + 'T' + p.hour + ':' + p.minute + ':' +
      p.second + sign + two(Math.floor(abs / 60)) + ':' + two(abs % 60);
  }

  function todayIn(zone) {
    return localIso(now(), zone).slice(0, 10);
  }

  function momentText(ms, zone) {
    try {
      return new Intl.DateTimeFormat('fr-FR', {
        dateStyle: 'long', timeStyle: 'short', timeZone: zone || undefined
      }).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toLocaleString('fr-FR');
    }
  }

  function dayText(day) {
    var d = new Date(Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)));
    return new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeZone: 'UTC' }).format(d);
  }

  function euros(cents) {
    return (cents / 100).toLocaleString('fr-FR', { style: 'currency', currency: 'EUR' });
  }

  // --- Codes (as src/vouchers/codes.rs) ---------------------------------------------------

  function luhn(values) {
    var sum = 0;
    for (var i = 0; i < values.length; i++) {
      var addend = (i % 2 === 0 ? 2 : 1) * values[values.length - 1 - i];
      sum += Math.floor(addend / 32) + addend % 32;
    }
    return (32 - sum % 32) % 32;
  }

  // A typed short code: case, spaces and dashes do not matter; O, I and L read as 0, 1, 1.
  function parseCode(input) {
    var values = [];
    var text = String(input).toUpperCase();
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === ' ' || c === '-' || c === '\t') { continue; }
      if (c === 'O') { c = '0'; }
      if (c === 'I' || c === 'L') { c = '1'; }
      var v = ALPHABET.indexOf(c);
      if (v < 0) { return { error: 'malformed' }; }
      values.push(v);
    }
    if (values.length !== 12) { return { error: 'malformed' }; }
    if (luhn(values.slice(0, 11)) !== values[11]) { return { error: 'typo' }; }
    return { code: values.map(function (v) { return ALPHABET.charAt(v); }).join('') };
  }

  function displayCode(code) {
    return code.slice(0, 4) + '-' + code.slice(4, 8) + '-' + code.slice(8);
  }

  function symbols(text) {
    for (var i = 0; i < text.length; i++) {
      if (ALPHABET.indexOf(text.charAt(i)) < 0) { return false; }
    }
    return true;
  }

  // Crockford base32 without padding, trailing bits zero (one spelling per signature).
  function base32(text) {
    var out = [];
    var buffer = 0;
    var bits = 0;
    for (var i = 0; i < text.length; i++) {
      var v = ALPHABET.indexOf(text.charAt(i));
      if (v < 0) { return null; }
      buffer = (buffer << 5) | v;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((buffer >> bits) & 0xff);
      }
      buffer &= (1 << bits) - 1;
    }
    return buffer === 0 && bits < 5 ? new Uint8Array(out) : null;
  }

  function base64url(text) {
    var b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  // `PN2.<key>.<programme>.<cents>.<YYYYMMDD>.<code>.<signature>`, read strictly.
  function parsePayload(payload) {
    var parts = payload.split('.');
    if (parts.length !== 7 || parts[0] !== 'PN2') { return null; }
    var key = parts[1];
    var programme = parts[2];
    var value = parts[3];
    var day = parts[4];
    var code = parts[5];
    if (!key || key.length > 8 || !symbols(key) || programme.length !== 8 ||
        !symbols(programme) || code.length !== 12 || !symbols(code) ||
        !/^[1-9][0-9]{0,8}$/.test(value) || !/^[0-9]{8}$/.test(day)) {
      return null;
    }
    var y = +day.slice(0, 4);
    var m = +day.slice(4, 6);
    var d = +day.slice(6, 8);
    var date = new Date(0);
    date.setUTCFullYear(y, m - 1, d);
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
      return null;
    }
    var signature = parts[6].length === 103 ? base32(parts[6]) : null;
    return {
      key: key,
      programme: programme,
      cents: +value,
      lastDay: day.slice(0, 4) + '-' + day.slice(4, 6) + '-' + day.slice(6, 8),
      code: code,
      signature: signature && signature.length === 64 ? signature : null,
      signed: payload.slice(0, payload.lastIndexOf('.'))
    };
  }

  var imported = {};

  function publicKey(id) {
    var keys = load('keys', null);
    var found = keys && keys.keys.filter(function (k) {
      return k.key_id === id && !k.retired_at && k.algorithm === 'Ed25519';
    })[0];
    if (!found) { return Promise.resolve(null); }
    if (!imported[id + found.public_key]) {
      imported[id + found.public_key] = crypto.subtle.importKey(
        'raw', base64url(found.public_key), { name: 'Ed25519' }, false, ['verify']);
    }
    return imported[id + found.public_key];
  }

  function verify(keyId, signature, text) {
    return publicKey(keyId).then(function (key) {
      if (!key) { return null; }
      return crypto.subtle.verify({ name: 'Ed25519' }, key, signature,
        new TextEncoder().encode(text));
    });
  }

  // --- What the device keeps, refreshed when online ---------------------------------------

  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; },
        function () { return { status: r.status, body: null }; });
    });
  }

  function refreshKeys() {
    return getJson('/api/v1/public/keys').then(function (r) {
      if (r.status === 200 && r.body && r.body.keys) {
        save('keys', { keys: r.body.keys, programmes: r.body.programmes, at: Date.now() });
        imported = {};
      }
    });
  }

  // The list is trusted only once its signature is checked; its lines are read, not its JSON.
  function refreshRevocations() {
    var asked = Date.now();
    return getJson('/api/v1/public/revocations').then(function (r) {
      var list = r.body;
      if (r.status !== 200 || !list || !list.signed_text) { return; }
      var answered = Date.now();
      return verify(list.key_id, base64url(list.signature), list.signed_text).then(function (ok) {
        if (!ok) { return; }
        var codes = [];
        var lines = list.signed_text.split('\n');
        if (lines[0] !== 'passnum revocations v1') { return; }
        lines.slice(3).forEach(function (line) {
          line.split(' ').slice(2).forEach(function (code) { if (code) { codes.push(code); } });
        });
        var server = parseServerTime(list.issued_at);
        save('revocations', { issued_at: list.issued_at, codes: codes, at: server === null ? answered : server });
        if (server !== null) { save('skew', Math.round(server - (asked + answered) / 2)); }
      });
    });
  }

  function refreshDevice() {
    var device = load('device', null);
    if (!device) { return Promise.resolve(); }
    return getJson('/lieu/hors-ligne/appareils/' + encodeURIComponent(device.id)).then(function (r) {
      if (r.status === 200 && r.body) {
        save('device', r.body);
      } else if (r.status === 404) {
        // Not this site's device (any more): notes already taken stay until synced elsewhere.
        save('device', null);
      }
    });
  }

  function refresh() {
    var steps = [refreshKeys().then(refreshRevocations), refreshDevice()];
    return Promise.all(steps.map(function (p) { return p.catch(function () { return null; }); }))
      .then(show);
  }

  // --- Showing the state ------------------------------------------------------------------

  function ready() {
    var device = load('device', null);
    return device && !device.revoked_at && load('keys', null) && load('revocations', null);
  }

  function pending() {
    return load('pending', []);
  }

  function show() {
    var device = load('device', null);
    var lists = load('revocations', null);
    var online = navigator.onLine;
    var sentence;
    if (device && device.revoked_at) {
      sentence = 'Cet appareil a été retiré de votre lieu : il ne peut plus encaisser hors ligne.';
    } else if (!ready()) {
      sentence = online
        ? 'En ligne. Cet appareil n\'est pas encore prêt à encaisser sans réseau : préparez-le ci-dessous.'
        : 'Hors ligne, et cet appareil n\'a pas été préparé : il ne peut pas vérifier les chèques. Encaissez quand le réseau revient.';
    } else if (online) {
      sentence = 'En ligne. Cet appareil peut aussi encaisser sans réseau : vérifications à jour du ' +
        momentText(lists.at) + '.';
    } else {
      sentence = 'Hors ligne. Les chèques scannés sont vérifiés sur cet appareil (liste des chèques annulés du ' +
        momentText(lists.at) + ') et les séances y sont notées : elles seront confirmées à la prochaine connexion.';
    }
    state.textContent = sentence;
    root.setAttribute('data-ready', ready() ? 'oui' : 'non');
    deviceForm.hidden = !!device;
    deviceText.textContent = device
      ? 'Cet appareil : « ' + device.label + ' ». ' + allowanceText(device.allowance)
      : 'Cet appareil n\'est pas encore enregistré pour encaisser hors ligne.';
    showPending();
    showResults();
  }

  function allowanceText(a) {
    if (!a) { return ''; }
    return 'Hors ligne, il peut noter ' + a.max_cheques + ' chèque' + (a.max_cheques > 1 ? 's' : '') +
      ' au plus, à synchroniser ' + (a.max_days > 1 ? 'au moins tous les ' + a.max_days + ' jours' : 'chaque jour') + '.';
  }

  function item(list, lines) {
    var li = document.createElement('li');
    lines.forEach(function (line, i) {
      var p = document.createElement(i === 0 ? 'strong' : 'span');
      p.textContent = line;
      if (i > 0) { li.appendChild(document.createElement('br')); }
      li.appendChild(p);
    });
    list.appendChild(li);
    return li;
  }

  function showPending() {
    var list = byId('console-pending');
    var notes = pending();
    list.textContent = '';
    byId('console-pending-empty').hidden = notes.length > 0;
    notes.forEach(function (note) {
      var s = note.shown;
      item(list, [
        (s.to_confirm ? 'À confirmer — ' : 'En attente — ') + s.codes.join(', '),
        'Séance du ' + s.when + ', ' + s.what + (s.total ? ', ' + s.total : '') + '.'
      ]);
    });
  }

  function showResults() {
    var list = byId('console-results');
    var results = load('results', []);
    list.textContent = '';
    byId('console-results-empty').hidden = results.length > 0;
    results.forEach(function (r) {
      item(list, [r.title, r.text]);
    });
  }

  function say(ok, text) {
    okBox.hidden = !ok;
    errorBox.hidden = ok;
    (ok ? okBox : errorBox).textContent = text;
    (ok ? errorBox : okBox).textContent = '';
  }

  // --- Noting a session offline -----------------------------------------------------------

  function fieldValue(selector) {
    var el = form.querySelector(selector);
    return el ? el.value : '';
  }

  function chosenPlace() {
    var id = fieldValue('#place_id');
    var places = setup.places;
    if (id) { return places.filter(function (p) { return p.id === id; })[0] || null; }
    return places.length === 1 ? places[0] : null;
  }

  function refusal(text) {
    return { refused: text };
  }

  function programmeName(reference) {
    var keys = load('keys', null);
    var found = keys && (keys.programmes || []).filter(function (p) { return p.reference === reference; })[0];
    return found ? found.name : null;
  }

  // One cheque as typed or scanned: what it is, or why it cannot be accepted.
  function checkCheque(input, place, kind, today, revoked, taken) {
    var text = input.trim();
    if (/^PN1\./i.test(text)) {
      return Promise.resolve(refusal('Ce QR code (ancien modèle) ne peut être vérifié qu\'avec une connexion. Sans réseau, tapez le code imprimé sous le QR code : il sera noté « à confirmer ».'));
    }
    if (!/^PN2\./i.test(text)) {
      var typed = parseCode(text);
      if (typed.error === 'typo') {
        return Promise.resolve(refusal('Ce code contient une erreur de frappe : vérifiez chaque caractère sur le chèque.'));
      }
      if (typed.error) {
        return Promise.resolve(refusal('Ce code n\'a pas la bonne forme : un code de chèque a 12 caractères (lettres et chiffres), par exemple ABCD-EFGH-JK12.'));
      }
      if (taken.indexOf(typed.code) >= 0) {
        return Promise.resolve(refusal('Chèque ' + displayCode(typed.code) + ' déjà noté sur cet appareil : il ne peut servir qu\'une fois.'));
      }
      if (revoked.indexOf(typed.code) >= 0) {
        return Promise.resolve(refusal('Chèque annulé : son carnet a été déclaré perdu ou annulé. Ne rendez pas le service au titre de ce chèque ; la personne peut demander un nouveau carnet à son distributeur.'));
      }
      return Promise.resolve({ code: typed.code, sent: typed.code, toConfirm: true });
    }
    var p = parsePayload(text);
    if (!p) {
      return Promise.resolve(refusal('Ce QR code n\'est pas celui d\'un chèque du Pass numérique, ou il a été mal lu : scannez-le de nouveau.'));
    }
    var forged = refusal('Chèque falsifié : ce QR code est faux ou a été modifié. Ne rendez pas le service au titre de ce chèque.');
    if (!p.signature || parseCode(p.code).code !== p.code) { return Promise.resolve(forged); }
    if (!window.crypto || !crypto.subtle) {
      return Promise.resolve(refusal('Ce navigateur ne sait pas vérifier un QR code sans réseau : tapez le code imprimé sous le QR code, il sera noté « à confirmer ».'));
    }
    return verify(p.key, p.signature, p.signed).then(function (ok) {
      if (ok === null) {
        return refusal('Chèque non reconnu : ce QR code n\'a pas été émis par le Pass numérique, ou sa clé n\'est plus valable. Ne rendez pas le service au titre de ce chèque.');
      }
      if (!ok) { return forged; }
      if (taken.indexOf(p.code) >= 0) {
        return refusal('Chèque ' + displayCode(p.code) + ' déjà noté sur cet appareil : il ne peut servir qu\'une fois.');
      }
      if (revoked.indexOf(p.code) >= 0) {
        return refusal('Chèque annulé : son carnet a été déclaré perdu ou annulé. Ne rendez pas le service au titre de ce chèque ; la personne peut demander un nouveau carnet à son distributeur.');
      }
      if (p.lastDay < today) {
        return refusal('Chèque expiré : son dernier jour était le ' + dayText(p.lastDay) + '. Il ne peut plus être accepté.');
      }
      var programme = place.programmes.filter(function (g) { return g.reference === p.programme; })[0];
      if (!programme) {
        var name = programmeName(p.programme);
        return refusal(name
          ? 'Chèque non accepté ici : son programme « ' + name + ' » ne couvre pas ce lieu, ou il a pris fin.'
          : 'Chèque non accepté ici : son programme n\'est pas connu de cet appareil.');
      }
      if (programme.closes_on && programme.closes_on < today) {
        return refusal('Chèque non accepté : son programme « ' + programme.name + ' » a pris fin le ' + dayText(programme.closes_on) + '.');
      }
      if (programme.services.length && programme.services.indexOf(kind) < 0) {
        return refusal('Chèque non accepté pour ce service : son programme « ' + programme.name + ' » ne paie pas ce type d\'aide.');
      }
      return { code: p.code, sent: text, toConfirm: false, cents: p.cents };
    });
  }

  function optionLabel(select) {
    var el = form.querySelector(select);
    return el && el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : '';
  }

  function noteOffline() {
    var device = load('device', null);
    if (!ready()) {
      say(false, 'Cet appareil n\'a pas été préparé pour encaisser hors ligne (ou il a été retiré) : aucune séance n\'a été notée. Encaissez quand le réseau revient.');
      return Promise.resolve();
    }
    var place = chosenPlace();
    if (!place) {
      say(false, 'Choisissez le lieu où le service est rendu.');
      return Promise.resolve();
    }
    if (!place.redeems) {
      say(false, 'Ce lieu n\'a pas de qualification en cours : il ne peut pas encaisser de chèques.');
      return Promise.resolve();
    }
    var inputs = Array.prototype.filter.call(form.querySelectorAll('input[name=code]'),
      function (f) { return f.value.trim() !== ''; });
    if (!inputs.length) {
      say(false, 'Indiquez le code du chèque, ou scannez son QR code.');
      return Promise.resolve();
    }
    var serviceValue = fieldValue('#service');
    var serviceId = null;
    var kind = serviceValue || null;
    if (serviceValue.indexOf('service:') === 0) {
      serviceId = serviceValue.slice(8);
      var offered = place.services.filter(function (s) { return s[0] === serviceId; })[0];
      kind = offered ? offered[1] : null;
    }
    var minutesValue = fieldValue('#minutes');
    var minutes = null;
    if (minutesValue === 'other') {
      minutes = parseInt(fieldValue('#minutes_other'), 10);
    } else if (minutesValue !== '') {
      minutes = parseInt(minutesValue, 10);
    }
    if (minutes !== null && !(minutes >= 1 && minutes <= 600)) {
      say(false, 'La durée va de 1 à 600 minutes.');
      return Promise.resolve();
    }
    var notes = pending();
    var allowance = device.allowance || { max_cheques: 50, max_days: 3 };
    var held = notes.reduce(function (n, note) { return n + note.record.cheques.length; }, 0);
    if (held + inputs.length > allowance.max_cheques) {
      say(false, 'Cet appareil a atteint sa limite hors ligne (' + allowance.max_cheques + ' chèques) : reconnectez-le pour synchroniser avant de noter d\'autres séances.');
      return Promise.resolve();
    }
    var oldest = notes.length ? parseServerTime(notes[0].record.session_at) : null;
    if (oldest !== null && now() - oldest > allowance.max_days * 86400000) {
      say(false, 'Des séances attendent depuis plus de ' + allowance.max_days + ' jours : reconnectez l\'appareil pour les synchroniser avant d\'en noter d\'autres.');
      return Promise.resolve();
    }
    var today = todayIn(place.zone);
    var revoked = load('revocations', { codes: [] }).codes;
    var taken = [];
    notes.forEach(function (note) { taken = taken.concat(note.codes || []); });
    var checked = [];
    var chain = Promise.resolve(null);
    inputs.forEach(function (input, i) {
      chain = chain.then(function (stop) {
        if (stop) { return stop; }
        var seen = taken.concat(checked.map(function (c) { return c.code; }));
        return checkCheque(input.value, place, kind, today, revoked, seen).then(function (c) {
          if (c.refused) {
            return inputs.length > 1 ? 'Chèque n° ' + (i + 1) + ' : ' + c.refused : c.refused;
          }
          checked.push(c);
          return null;
        });
      });
    });
    return chain.then(function (refused) {
      if (refused) {
        say(false, refused + (inputs.length > 1 ? ' Aucune séance n\'a été notée.' : ''));
        return;
      }
      var at = now();
      var seq = (load('seq', 0) || 0) + 1;
      save('seq', seq);
      var themes = Array.prototype.map.call(form.querySelectorAll('input[name=themes]:checked'),
        function (t) { return t.value; });
      var location = form.querySelector('input[name=location]:checked');
      var record = {
        device_id: device.id,
        seq: seq,
        session_at: localIso(at, place.zone),
        cheques: checked.map(function (c) {
          return c.toConfirm ? { code: c.sent, to_confirm: true } : { code: c.sent };
        }),
        place_id: place.id,
        service_id: serviceId,
        service: serviceId ? null : kind,
        minutes: minutes,
        themes: themes,
        location: location ? location.value : null,
        help_level: fieldValue('#help_level') || null
      };
      var toConfirm = checked.some(function (c) { return c.toConfirm; });
      var cents = checked.reduce(function (n, c) { return n + (c.cents || 0); }, 0);
      var codes = checked.map(function (c) { return displayCode(c.code); });
      notes.push({
        record: record,
        codes: checked.map(function (c) { return c.code; }),
        shown: {
          codes: codes.map(function (c) { return 'chèque ' + c; }),
          when: momentText(at, place.zone),
          what: optionLabel('#service') + (minutes ? ', ' + minutes + ' min' : ''),
          total: toConfirm ? '' : euros(cents),
          to_confirm: toConfirm
        }
      });
      save('pending', notes);
      inputs.forEach(function (input) { input.value = ''; });
      say(true, toConfirm
        ? 'Séance notée sur cet appareil, à confirmer : un code tapé sans réseau n\'a pu être vérifié que pour les fautes de frappe. Le chèque (' + codes.join(', ') + ') sera confirmé ou refusé à la prochaine connexion ; si possible, gardez le chèque ou notez son code.'
        : 'Séance notée sur cet appareil, sans réseau : ' + (codes.length > 1 ? 'chèques ' : 'chèque ') + codes.join(', ') + ' (' + euros(cents) + '), vérifié' + (codes.length > 1 ? 's' : '') + ' ici. Elle sera confirmée à la prochaine connexion.');
      show();
      var first = form.querySelector('input[name=code]');
      if (first) { first.focus(); }
    });
  }

  // Whether the server answers now (navigator.onLine can say yes on a network that goes nowhere).
  function reachable() {
    if (!navigator.onLine) { return Promise.resolve(false); }
    var abort = window.AbortController ? new AbortController() : null;
    var timer = abort ? setTimeout(function () { abort.abort(); }, 5000) : null;
    return fetch('/lieu/sw.js', {
      method: 'HEAD', cache: 'no-store', credentials: 'same-origin', signal: abort ? abort.signal : undefined
    }).then(function (r) {
      clearTimeout(timer);
      return r.status < 500;
    }, function () {
      clearTimeout(timer);
      return false;
    });
  }

  var busy = false;
  form.addEventListener('submit', function (event) {
    // Without a prepared device there is nothing to do offline: the form goes as it is.
    if (!ready()) { return; }
    event.preventDefault();
    if (busy) { return; }
    busy = true;
    reachable().then(function (online) {
      if (online) {
        form.submit();
        return;
      }
      return noteOffline();
    }).catch(function () {
      say(false, 'La séance n\'a pas pu être notée : recommencez.');
    }).then(function () { busy = false; });
  });

  // --- Registering this device ------------------------------------------------------------

  deviceForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = new URLSearchParams(new FormData(deviceForm));
    fetch(deviceForm.getAttribute('action'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      body: body
    }).then(function (r) {
      return r.json().then(function (b) { return { status: r.status, body: b }; },
        function () { return { status: r.status, body: null }; });
    }).then(function (r) {
      if (r.status === 201 && r.body && r.body.id) {
        save('device', r.body);
        say(true, 'Cet appareil est enregistré : il garde maintenant de quoi vérifier les chèques sans réseau.');
        return refresh();
      }
      say(false, (r.body && r.body.error && r.body.error.message) ||
        'L\'appareil n\'a pas pu être enregistré : rechargez la page et recommencez.');
    }, function () {
      say(false, 'Pas de connexion : un appareil s\'enregistre quand le réseau est là.');
    });
  });

  // --- Sync -------------------------------------------------------------------------------

  function outcomeLine(note, outcome) {
    var codes = note ? note.shown.codes.join(', ') : 'séance n° ' + outcome.seq;
    var when = note ? 'Séance du ' + note.shown.when : 'Séance';
    if (outcome.outcome === 'accepted') {
      return { title: 'Encaissé — ' + codes, text: when + ' : confirmée à la synchronisation.' };
    }
    if (outcome.outcome === 'conflict') {
      return { title: 'Déjà utilisé — ' + codes, text: when + '. ' + (outcome.reason || 'Ce chèque avait déjà servi ailleurs ; rien n\'a été encaissé.') };
    }
    return { title: 'Refusé — ' + codes, text: when + '. ' + (outcome.reason || 'Cette séance n\'a pas été encaissée.') };
  }

  function sync() {
    var notes = pending();
    if (syncing || !notes.length) { return Promise.resolve(); }
    syncing = true;
    syncButton.disabled = true;
    var batch = notes.slice(0, 100);
    return fetch('/lieu/hors-ligne/synchroniser', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ records: batch.map(function (n) { return n.record; }) })
    }).then(function (r) {
      return r.json().then(function (b) { return { status: r.status, body: b }; },
        function () { return { status: r.status, body: null }; });
    }).then(function (r) {
      if (r.status !== 200 || !r.body || !r.body.records) {
        var why = r.status === 401
          ? 'Votre session a pris fin : reconnectez-vous, puis synchronisez.'
          : (r.body && r.body.error && r.body.error.message) || 'La synchronisation n\'a pas abouti.';
        say(false, why + ' Les séances restent sur cet appareil.');
        return;
      }
      var answered = {};
      var counts = { accepted: 0, conflict: 0, refused: 0 };
      var lines = r.body.records.map(function (o) {
        answered[o.seq] = true;
        counts[o.outcome] = (counts[o.outcome] || 0) + 1;
        var note = batch.filter(function (n) { return n.record.seq === o.seq; })[0];
        return outcomeLine(note, o);
      });
      // Every answer is final (the server keeps it): what was answered leaves the device.
      save('pending', pending().filter(function (n) { return !answered[n.record.seq]; }));
      save('results', lines);
      say(counts.conflict + counts.refused === 0,
        'Synchronisation faite : ' + counts.accepted + ' séance' + (counts.accepted > 1 ? 's' : '') + ' encaissée' + (counts.accepted > 1 ? 's' : '') +
        ', ' + counts.conflict + ' déjà utilisée' + (counts.conflict > 1 ? 's' : '') + ' ailleurs, ' +
        counts.refused + ' refusée' + (counts.refused > 1 ? 's' : '') + '. Le détail est dans « Dernière synchronisation ».');
      show();
      if (pending().length && batch.length === 100) { syncing = false; return sync(); }
    }, function () {
      say(false, 'Pas de connexion : les séances restent sur cet appareil et seront envoyées au retour du réseau.');
    }).then(function () {
      syncing = false;
      syncButton.disabled = false;
    });
  }

  syncButton.addEventListener('click', function () {
    if (!pending().length) {
      say(true, 'Aucune séance en attente : tout est synchronisé.');
      return;
    }
    sync();
  });

  // --- Start ------------------------------------------------------------------------------

  // A page kept by the service worker carries a one-time token already used: each view of
  // the page gets its own, as the server would give.
  Array.prototype.forEach.call(document.querySelectorAll('input[name=once]'), function (input) {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    input.value = Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? '0' : '') + b.toString(16);
    }).join('');
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-console]'), function (el) {
    el.hidden = false;
  });
  Array.prototype.forEach.call(document.querySelectorAll('.console-nojs'), function (el) {
    el.hidden = true;
  });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/lieu/sw.js', { scope: '/lieu/' }).catch(function () {
      return null;
    });
  }
  window.addEventListener('online', function () { refresh().then(sync); });
  window.addEventListener('offline', show);
  show();
  if (navigator.onLine) { refresh().then(sync); }
})();
