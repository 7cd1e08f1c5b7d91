// d2lc pages: which target is chosen (sphinx-design keeps the tab choice in localStorage and syncs
// the tab sets); here, prose meant for one target, the per-target links, and the side-by-side view.
(function () {
  "use strict";
  const KEY = "sphinx-design-tab-id-target";
  const COMPARE = "d2lc-compare";

  function chosen() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }

  function targetsOnPage() {
    const seen = [];
    document.querySelectorAll(".d2lc-code .sd-tab-label[data-sync-id]").forEach((l) => {
      const id = l.getAttribute("data-sync-id");
      if (!seen.includes(id)) seen.push(id);
    });
    return seen;
  }

  function current() {
    const input = document.querySelector(".d2lc-code > input:checked + label[data-sync-id]");
    return (input && input.getAttribute("data-sync-id")) || chosen() || targetsOnPage()[0];
  }

  function showOnly(target) {
    document.querySelectorAll(".d2lc-only").forEach((el) => {
      el.hidden = !el.classList.contains("d2lc-only-" + target);
    });
    document.querySelectorAll(".d2lc-target-links").forEach((el) => {
      el.classList.toggle("d2lc-current", el.getAttribute("data-target") === target);
    });
  }

  // The lines of a and b, each marked same / changed, by a longest common subsequence.
  function lineDiff(a, b) {
    const n = a.length, m = b.length;
    const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const left = [], right = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { left.push([a[i++], false]); right.push([b[j++], false]); }
      else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) { right.push([b[j++], true]); }
      else { left.push([a[i++], true]); }
    }
    return [left, right];
  }

  function codeOf(set, target) {
    const label = set.querySelector(':scope > label[data-sync-id="' + target + '"]');
    const panel = label && label.nextElementSibling;
    const pre = panel && panel.querySelector("div.highlight-python pre");
    return pre ? pre.textContent.replace(/\n$/, "").split("\n") : [];
  }

  function column(lines, title) {
    const col = document.createElement("div");
    col.className = "d2lc-side";
    const h = document.createElement("div");
    h.className = "d2lc-side-title";
    h.textContent = title;
    const pre = document.createElement("pre");
    lines.forEach(([text, changed]) => {
      const span = document.createElement("span");
      span.className = changed ? "d2lc-line d2lc-changed" : "d2lc-line";
      span.textContent = text + "\n";
      pre.appendChild(span);
    });
    col.append(h, pre);
    return col;
  }

  function renderCompare() {
    document.querySelectorAll(".d2lc-sidebyside").forEach((el) => el.remove());
    const on = document.querySelector(".d2lc-compare-toggle")?.checked;
    document.body.classList.toggle("d2lc-comparing", !!on);
    if (!on) return;
    const a = document.querySelector(".d2lc-compare-a").value;
    const b = document.querySelector(".d2lc-compare-b").value;
    const names = {};
    document.querySelectorAll(".d2lc-compare-a option").forEach((o) => (names[o.value] = o.textContent));
    document.querySelectorAll(".d2lc-code").forEach((set) => {
      const [left, right] = lineDiff(codeOf(set, a), codeOf(set, b));
      const view = document.createElement("div");
      view.className = "d2lc-sidebyside";
      view.append(column(left, names[a]), column(right, names[b]));
      set.after(view);
    });
    try { localStorage.setItem(COMPARE, JSON.stringify({ a, b })); } catch (e) { /* no storage */ }
  }

  function setupCompare() {
    const toggle = document.querySelector(".d2lc-compare-toggle");
    if (!toggle) return;
    const targets = targetsOnPage();
    const [sa, sb] = [document.querySelector(".d2lc-compare-a"), document.querySelector(".d2lc-compare-b")];
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(COMPARE) || "null"); } catch (e) { saved = null; }
    sa.value = (saved && saved.a) || targets[0];
    sb.value = (saved && saved.b) || targets[1] || targets[0];
    [toggle, sa, sb].forEach((el) => el.addEventListener("change", renderCompare));
  }

  function ready() {
    document.querySelectorAll(".d2lc-code > input").forEach((input) =>
      input.addEventListener("change", () => setTimeout(() => showOnly(current()), 0)));
    showOnly(current());
    setupCompare();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
