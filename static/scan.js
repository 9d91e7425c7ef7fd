// Progressive enhancement: where the browser can read QR codes from the camera
// (BarcodeDetector), offer a "Scanner" button that fills the code field and submits (or, for
// several cheques, fills the next empty field).
(function () {
  var form = document.getElementById('redeem-form');
  if (!form || !('BarcodeDetector' in window) || !navigator.mediaDevices) { return; }
  var field = document.getElementById('code');
  var button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary';
  button.textContent = 'Scanner le QR code avec la caméra';
  var video = document.createElement('video');
  video.setAttribute('playsinline', '');
  video.setAttribute('aria-label', 'Image de la caméra');
  video.hidden = true;
  field.insertAdjacentElement('afterend', button);
  button.insertAdjacentElement('afterend', video);
  button.addEventListener('click', function () {
    var detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var look = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length > 0) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            video.hidden = true;
            // Several cheques for one session (the "several cheques" part is open): fill the
            // next empty code field and let the agent scan the next one or submit.
            var several = form.querySelector('details');
            var fields = form.querySelectorAll('input[name=code]');
            var empty = Array.prototype.filter.call(fields, function (f) { return f.value === ''; });
            if (several && several.open && empty.length > 0) {
              empty[0].value = codes[0].rawValue;
              button.textContent = 'Scanner le chèque suivant';
            } else {
              field.value = codes[0].rawValue;
              // requestSubmit fires the form's submit event: the console (console.js) checks
              // the cheque itself when there is no connection.
              if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
            }
          } else {
            window.requestAnimationFrame(look);
          }
        }).catch(function () { window.requestAnimationFrame(look); });
      };
      look();
    }).catch(function () {
      button.textContent = 'La caméra n’est pas disponible : tapez le code.';
      button.disabled = true;
    });
  });
})();
