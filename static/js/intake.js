/* Intake: search registered persons as you type, pick one or enter a new person; show the
   referral details only for the bodies that are ticked; show the 和暦 of the birth date.
   Without this script the form still works: the duplicate check runs on submit. */
(function () {
  "use strict";
  var form = document.getElementById("intake-form");
  if (!form) return;
  var lang = document.documentElement.lang || "ja";
  var en = lang.indexOf("en") === 0;
  var t = en
    ? { none: "No registered person found. Enter a new person below.", found: " found. Use Tab to reach them.",
        pick: "Use this person", error: "Search failed. Enter the person below.", born: "Born ",
        openAt: "Open case at: ", throttled: "Too many searches. Wait a moment and try again." }
    : { none: "登録済みの方は見つかりませんでした。下に新しい方として入力してください。", found: "件見つかりました。Tab キーで選べます。",
        pick: "この方を選ぶ", error: "検索できませんでした。下に入力してください。", born: "生年月日 ",
        openAt: "受付中のケース: ", throttled: "検索の回数が多すぎます。しばらく待ってから検索してください。" };

  // --- Person search ---------------------------------------------------------------------------
  var box = document.getElementById("person-search");
  var input = document.getElementById("person-search-input");
  var status = document.getElementById("person-search-status");
  var results = document.getElementById("person-search-results");
  var personId = document.getElementById("id_person_id");
  var personLabel = document.getElementById("id_person_label");
  var personChoice = document.getElementById("id_person_choice");
  var householdUrl = form.getAttribute("data-household-url");
  var selected = document.getElementById("selected-person");
  var selectedLabel = document.getElementById("selected-person-label");
  var newPerson = document.getElementById("new-person");
  var clear = document.getElementById("clear-person");
  var url = form.getAttribute("data-search-url");
  var timer = null;
  var seq = 0;

  box.hidden = false;

  // The chosen person's household signal (a member with an open case elsewhere, the 8050 /
  // young-carer hints) before submit: the server renders it, as it does for the page without script.
  function showHousehold(person) {
    var signal = document.getElementById("household-signal");
    if (!signal) return;
    signal.textContent = "";
    if (!householdUrl || !person) return;
    var address = householdUrl + "&person=" + encodeURIComponent(String(person.id)) +
      "&choice=" + encodeURIComponent(person.choice || "");
    fetch(address, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var part = new DOMParser().parseFromString(html, "text/html").getElementById("household-signal");
        var current = document.getElementById("household-signal");
        if (part && current && personId.value === String(person.id)) current.replaceWith(document.importNode(part, true));
      })
      .catch(function () { /* the case page shows the household once opened */ });
  }

  function choose(person) {
    personId.value = String(person.id);
    if (personChoice) personChoice.value = person.choice || "";
    personLabel.value = person.name + (person.kana ? "（" + person.kana + "）" : "") +
      (person.birth_date ? " " + person.birth_date : "");
    selectedLabel.textContent = personLabel.value;
    selected.hidden = false;
    newPerson.hidden = true;
    results.textContent = "";
    status.textContent = "";
    input.value = "";
    clear.focus();
    showHousehold(person);
  }

  function unchoose() {
    personId.value = "";
    if (personChoice) personChoice.value = "";
    showHousehold(null);
    personLabel.value = "";
    selected.hidden = true;
    newPerson.hidden = false;
    input.focus();
  }

  function render(list) {
    results.textContent = "";
    if (!list.length) {
      status.textContent = t.none;
      return;
    }
    status.textContent = list.length + t.found;
    list.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "search-result";
      var info = document.createElement("span");
      info.className = "search-result-info";
      var name = document.createElement("strong");
      name.textContent = p.name;
      info.appendChild(name);
      var rest = " " + (p.kana || "") + (p.birth_date ? "・" + t.born + p.birth_date : "") +
        (p.district ? "・" + p.district : "") + (p.town ? "・" + p.town : "") +
        (p.open_case_at && p.open_case_at.length ? "・" + t.openAt + p.open_case_at.join("、") : "");
      info.appendChild(document.createTextNode(rest));
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-small";
      button.textContent = t.pick;
      button.setAttribute("aria-label", t.pick + ": " + p.name + " " + (p.kana || "") + " " + (p.birth_date || ""));
      button.addEventListener("click", function () { choose(p); });
      li.appendChild(info);
      li.appendChild(button);
      results.appendChild(li);
    });
  }

  function search() {
    var q = input.value.trim();
    if (q.length < 2) {
      results.textContent = "";
      status.textContent = "";
      return;
    }
    var mine = ++seq;
    fetch(url + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) { if (mine === seq) render(data.results || []); })
      .catch(function (e) { if (mine === seq) status.textContent = e.message === "429" ? t.throttled : t.error; });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 350);  // one search (and one access-log row) per pause
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); window.clearTimeout(timer); search(); }
  });
  clear.addEventListener("click", unchoose);

  // --- Consent and referral details ------------------------------------------------------------
  function toggleBlock(checkbox, block, row) {
    function sync() {
      block.hidden = !checkbox.checked;
      if (row) row.classList.toggle("is-on", checkbox.checked);
    }
    checkbox.addEventListener("change", sync);
    sync();
  }
  var consent = document.getElementById("id_consent_given");
  var consentDetails = document.getElementById("consent-details");
  if (consent && consentDetails) toggleBlock(consent, consentDetails, null);

  form.querySelectorAll(".referral-row").forEach(function (row) {
    var checkbox = row.querySelector(".refer-toggle input[type=checkbox]");
    var details = row.querySelector(".referral-details");
    // Keep a row open when it came back with an error, even if unticked.
    if (checkbox && details && !row.querySelector(".field-has-error")) toggleBlock(checkbox, details, row);
  });

  // --- 和暦 preview of the birth date ----------------------------------------------------------
  var birth = document.getElementById("id_birth_date");
  var preview = document.getElementById("birth-wareki");
  var eras = [
    [20190501, "令和", "Reiwa", 2019], [19890108, "平成", "Heisei", 1989], [19261225, "昭和", "Showa", 1926],
    [19120730, "大正", "Taisho", 1912], [18730101, "明治", "Meiji", 1868]
  ];
  function wareki(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    if (!m) return "";
    var y = +m[1], mo = +m[2], d = +m[3], key = y * 10000 + mo * 100 + d;
    for (var i = 0; i < eras.length; i++) {
      if (key >= eras[i][0]) {
        var n = y - eras[i][3] + 1;
        return en ? eras[i][2] + " " + n + " (" + y + ")" : eras[i][1] + (n === 1 ? "元" : n) + "年" + mo + "月" + d + "日";
      }
    }
    return "";
  }
  if (birth && preview) {
    var show = function () { preview.textContent = wareki(birth.value); };
    birth.addEventListener("input", show);
    birth.addEventListener("change", show);
    show();
  }
})();
