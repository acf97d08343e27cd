// The gate page's camera scanner: the phone's rear camera, frames read by jsQR (served by the app from
// the npm package, no CDN); a health code found fills the form and submits it, the guard sees the answer.
(function () {
  "use strict";
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera");
  var form = document.getElementById("scan-form");
  if (!start || !video || !form || typeof jsQR !== "function" || !navigator.mediaDevices) { return; }
  start.hidden = false;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;
  function stop() {
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    video.hidden = true;
  }
  function look() {
    if (!stream) { return; }
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var frame = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
      if (found && /^(AK1|HC1):/.test(found.data)) {
        form.elements.code.value = found.data;
        stop();
        form.submit();
        return;
      }
    }
    requestAnimationFrame(look);
  }
  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        video.play();
        requestAnimationFrame(look);
      })
      .catch(function () { start.textContent = start.dataset.denied; });
  });
})();
