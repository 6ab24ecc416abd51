// Applies the remembered theme before the first paint (a file, not inline: the CSP allows no inline script).
try {
  var t = localStorage.getItem("doorbell.theme");
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
} catch (e) {}
