// Progressive enhancement: where the browser can read QR codes from the camera
// (BarcodeDetector), offer a "Scanner" button that fills the code field and submits.
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
            field.value = codes[0].rawValue;
            form.submit();
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
