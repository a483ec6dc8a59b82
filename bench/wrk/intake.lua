-- wrk script: intakes (POST /api/v1/cases/) with a token, each for a new person with one referral.
-- Usage: wrk -t2 -c4 -d30s -s bench/wrk/intake.lua http://127.0.0.1:PORT -- <token>
-- Prints one JSON line at the end (requests, duration, latency percentiles, non-2xx, errors).

local families = {"佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "山本", "中村", "小林", "加藤"}
local families_kana = {"サトウ", "スズキ", "タカハシ", "タナカ", "ワタナベ", "イトウ", "ヤマモト", "ナカムラ", "コバヤシ", "カトウ"}
local givens = {"花子", "一郎", "幸子", "茂", "恵子", "博", "和子", "清", "節子", "勇"}
local givens_kana = {"ハナコ", "イチロウ", "サチコ", "シゲル", "ケイコ", "ヒロシ", "カズコ", "キヨシ", "セツコ", "イサム"}
local districts = {"kawakami", "aoe", "tsukumi", "hoto", "yotsuura", "chinu"}
local token = ""
local counter = 0
local thread_id = 0

function init(args)
   token = args[1] or ""
   thread_id = math.random(1, 1000000)
   math.randomseed(os.time() + thread_id)
end

function request()
   counter = counter + 1
   local f = math.random(1, #families)
   local g = math.random(1, #givens)
   local body = string.format(
      '{"person": {"family_name": "%s", "given_name": "%s", "family_name_kana": "%s", "given_name_kana": "%s", ' ..
      '"birth_date": "19%02d-%02d-%02d", "district": "%s", "address": "津久見市 %d-%d", "phone": ""}, ' ..
      '"confirm_new_person": true, "channel": "counter", "summary": "一人暮らしで外出が減っている（負荷試験 %d-%d）", ' ..
      '"needs": ["isolation", "health"], "risk": "normal", ' ..
      '"referrals": [{"to_department": "health_promotion", "basis": "internal_use", "reason": "保健師の訪問をお願いします。"}]}',
      families[f], givens[g], families_kana[f], givens_kana[g],
      math.random(30, 99), math.random(1, 12), math.random(1, 28), districts[math.random(1, #districts)],
      math.random(1, 30), math.random(1, 20), thread_id, counter)
   return wrk.format("POST", "/api/v1/cases/", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Token " .. token,
   }, body)
end

function done(summary, latency, requests)
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"non2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
      latency.max, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
      summary.errors.timeout))
end
