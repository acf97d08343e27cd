// The person code page: the clock ticks (a live page, not a screenshot) and the code is fetched anew
// before it expires; a failed fetch retries and says so rather than showing a stale code as valid.
(function () {
  "use strict";
  var card = document.getElementById("code-card");
  if (!card) { return; }
  var clock = document.getElementById("now-clock");
  var qr = document.getElementById("qr");
  var word = document.getElementById("colour-word");
  var words = { green: "绿码", yellow: "黄码", red: "红码" };
  if (document.documentElement.lang === "en") { words = { green: "Green", yellow: "Yellow", red: "Red" }; }
  function tick() {
    var now = new Date();
    clock.textContent = now.toLocaleTimeString(document.documentElement.lang, { hour12: false });
  }
  function refresh() {
    fetch(card.dataset.fresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { if (!answer.ok) { throw new Error(answer.status); } return answer.json(); })
      .then(function (code) {
        qr.innerHTML = code.svg;
        card.className = "code-card " + code.colour;
        word.textContent = words[code.colour] || code.colour;
        schedule(code.seconds_left);
      })
      .catch(function () { qr.style.opacity = "0.3"; setTimeout(refresh, 10000); });
  }
  function schedule(secondsLeft) {
    setTimeout(refresh, Math.max(5, secondsLeft - 30) * 1000);  // well before expiry
  }
  tick();
  setInterval(tick, 1000);
  schedule(parseInt(card.dataset.secondsLeft, 10) || 60);
})();
