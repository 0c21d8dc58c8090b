/* Sign in: the API sets the session cookie (and its CSRF token); then back to the map. */
"use strict";
document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const msg = document.getElementById("login-message");
  msg.textContent = "";
  try {
    await api("/session", {method: "POST", body: {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value}});
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith(MW.ui + "/") ? next : MW.ui + "/queue";
  } catch (err) {
    msg.textContent = err.status === 401 || err.status === 403 ? t("Wrong user name or password.") : t("Could not sign in: %(error)s", {error: err.message});
  }
});
