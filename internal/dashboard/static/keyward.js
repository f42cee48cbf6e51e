// Copy buttons for the reveal panel. The page works without this script: the secret is in a
// read-only field that can be selected and copied by hand.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch {
    document.execCommand("copy");
    button.textContent = "Copied";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
