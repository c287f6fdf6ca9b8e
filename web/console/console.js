// The console works without this file; it only adds conveniences.
// Forms with data-confirm ask before they submit.
document.addEventListener('submit', (e) => {
  const msg = e.target.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
