-- req.lua: one request for wrk, set from the environment, and a count of
-- answers whose status is not the expected one.
--   BENCH_METHOD (GET), BENCH_HEADERS ("Name: value" lines), BENCH_BODY,
--   BENCH_EXPECT (expected status, 200)
--   BENCH_TOKENS: a file of tokens, one a line, sent in turn as
--   "Authorization: Bearer <token>", each thread starting at its own
--   offset (BENCH_NTHREADS: wrk's -t); a thread's connections take the
--   next token as each sends, so no two requests in flight carry the
--   same one.
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
	thread:set("index", #threads - 1)
end

local tokens, next_token

function init(args)
	answered = 0
	unexpected = 0
	busy = 0
	non2xx = 0
	other = 0
	local path = os.getenv("BENCH_TOKENS")
	if path and path ~= "" then
		tokens = {}
		for line in io.lines(path) do
			if line ~= "" then tokens[#tokens + 1] = line end
		end
		if #tokens == 0 then error("req.lua: no token in " .. path) end
		-- wrk calls a thread's init before the next thread exists: the
		-- number of threads comes from the environment.
		local n = tonumber(os.getenv("BENCH_NTHREADS") or "1")
		next_token = math.floor(#tokens * index / math.max(n, 1))
	end
end

if os.getenv("BENCH_TOKENS") and os.getenv("BENCH_TOKENS") ~= "" then
	function request()
		next_token = next_token % #tokens + 1
		wrk.headers["Authorization"] = "Bearer " .. tokens[next_token]
		return wrk.format()
	end
end

function response(status, headers, body)
	answered = answered + 1
	if status ~= expect then
		unexpected = unexpected + 1
		other = status
	end
	if status == 503 then busy = busy + 1 end
	if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
	local a, u, b, n, o = 0, 0, 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("answered")
		u = u + t:get("unexpected")
		b = b + t:get("busy")
		n = n + t:get("non2xx")
		if t:get("other") ~= 0 then o = t:get("other") end
	end
	io.write(string.format("bench: answered=%d unexpected=%d busy=%d non2xx=%d (one was %d)\n",
		a, u, b, n, o))
end
