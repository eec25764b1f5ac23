-- req.lua: one fixed request for wrk, set from the environment, and a
-- count of answers whose status is not the expected one.
--   BENCH_METHOD (GET), BENCH_HEADERS ("Name: value" lines), BENCH_BODY,
--   BENCH_EXPECT (expected status, 200)
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local threads = {}

wrk.method = os.getenv("BENCH_METHOD") or "GET"
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
	local name, value = line:match("^([^:]+):%s*(.*)$")
	if name then wrk.headers[name] = value end
end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	answered = 0
	unexpected = 0
	busy = 0
	other = 0
end

function response(status, headers, body)
	answered = answered + 1
	if status ~= expect then
		unexpected = unexpected + 1
		other = status
	end
	if status == 503 then busy = busy + 1 end
end

function done(summary, latency, requests)
	local a, u, b, o = 0, 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("answered")
		u = u + t:get("unexpected")
		b = b + t:get("busy")
		if t:get("other") ~= 0 then o = t:get("other") end
	end
	io.write(string.format("bench: answered=%d unexpected=%d busy=%d (one was %d)\n", a, u, b, o))
end
