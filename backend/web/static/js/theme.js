// The colour theme: the system's (the default), light or dark, chosen with a button in the
// top bar and remembered in this browser. The stylesheet does the rest (light-dark() colours
// and data-theme on <html>, see css/base.css).

const KEY = "almanac.theme";
const THEMES = ["auto", "light", "dark"];
const NAMES = { auto: "system", light: "light", dark: "dark" };

/** The theme chosen in this browser ("auto" when none or when storage is unavailable). */
export function chosenTheme() {
  try {
    const value = localStorage.getItem(KEY);
    return THEMES.includes(value) ? value : "auto";
  } catch {
    return "auto";
  }
}

/** Show `theme`: the system's scheme for "auto", else the one named. */
export function applyTheme(theme = chosenTheme()) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/** The top bar's button: each press goes to the next theme (system, light, dark). */
export function wireThemeButton(button) {
  const show = (theme) => {
    button.textContent = `Theme: ${NAMES[theme]}`;
    button.setAttribute("aria-label", `Colour theme: ${NAMES[theme]}. Change`);
  };
  show(chosenTheme());
  button.addEventListener("click", () => {
    const next = THEMES[(THEMES.indexOf(chosenTheme()) + 1) % THEMES.length];
    try {
      if (next === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, next);
    } catch {
      // Storage refused (private mode): the choice lasts for this page only.
    }
    applyTheme(next);
    show(next);
  });
}
