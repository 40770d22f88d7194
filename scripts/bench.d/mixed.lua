-- mixed.lua — wrk script for figure 8 of `make bench`: 95% reads (2%
-- index.yaml, 58% chart tarballs, 35% the JSON API), 5% uploads (POST /api/charts?force, so the
-- pool of bodies can be sent again), all with basic auth.
--
-- Reads its inputs from the directory in BENCH_MIXED_DIR, written by
-- scripts/bench: auth (the Authorization header value), index (the path of
-- index.yaml), tarballs.txt and api.txt (request paths), uploads.txt (chart
-- files to upload).  Prints one line "mixed key=value ..." at the end.
--
-- No response() function: with one, wrk keeps every response body in
-- memory to hand it to Lua, and a single index.yaml of L (170 MB) then
-- stalls the wrk thread and its 32 connections for seconds (this measured
-- 12 req/s and p99 16 s with the servers idle).  wrk counts statuses of
-- 400 and above itself (status_err); scripts/bench reads each request's
-- status from nginx's access log.

local dir = os.getenv("BENCH_MIXED_DIR")
local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
	table.insert(threads, thread)
end

local function lines(path)
	local t = {}
	for l in io.lines(path) do
		if l ~= "" then t[#t + 1] = l end
	end
	return t
end

local function slurp(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("*a")
	f:close()
	return s
end

function init(args)
	local auth = slurp(dir .. "/auth"):gsub("%s+$", "")
	local hdr = { ["Authorization"] = auth }
	index_req = wrk.format("GET", slurp(dir .. "/index"):gsub("%s+$", ""), hdr)
	tarball_reqs, api_reqs, upload_reqs = {}, {}, {}
	for _, p in ipairs(lines(dir .. "/tarballs.txt")) do
		tarball_reqs[#tarball_reqs + 1] = wrk.format("GET", p, hdr)
	end
	for _, p in ipairs(lines(dir .. "/api.txt")) do
		api_reqs[#api_reqs + 1] = wrk.format("GET", p, hdr)
	end
	local up_hdr = { ["Authorization"] = auth, ["Content-Type"] = "application/gzip" }
	-- Each thread takes its own share of the bodies.
	local files = lines(dir .. "/uploads.txt")
	local step = tonumber(os.getenv("BENCH_THREADS") or "1")
	for i = tid, #files, step do
		upload_reqs[#upload_reqs + 1] = wrk.format("POST", "/api/charts?force", up_hdr, slurp(files[i]))
	end
	if #upload_reqs == 0 then
		upload_reqs[1] = wrk.format("POST", "/api/charts?force", up_hdr, slurp(files[1]))
	end
	math.randomseed(tid * 7919)
	n_index, n_tarball, n_api, n_upload = 0, 0, 0, 0
	up_next = 1
end

-- Weights in percent: uploads 5, index 2, tarballs 58, API 35.  (A Helm
-- client fetches index.yaml once per `helm repo update`, and on L it is
-- hundreds of megabytes: more of them would measure only bandwidth.)
function request()
	local r = math.random(100)
	if r <= 5 then
		n_upload = n_upload + 1
		local q = upload_reqs[up_next]
		up_next = up_next % #upload_reqs + 1
		return q
	elseif r <= 7 then
		n_index = n_index + 1
		return index_req
	elseif r <= 65 then
		n_tarball = n_tarball + 1
		return tarball_reqs[math.random(#tarball_reqs)]
	else
		n_api = n_api + 1
		return api_reqs[math.random(#api_reqs)]
	end
end

function done(summary, latency, requests)
	local t = { n_index = 0, n_tarball = 0, n_api = 0, n_upload = 0 }
	for _, th in ipairs(threads) do
		for k, _ in pairs(t) do
			t[k] = t[k] + (th:get(k) or 0)
		end
	end
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		"mixed requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"index=%d tarball=%d api=%d upload=%d " ..
		"connect_err=%d read_err=%d write_err=%d timeout=%d status_err=%d\n",
		summary.requests, secs, summary.requests / secs,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
		t.n_index, t.n_tarball, t.n_api, t.n_upload,
		e.connect, e.read, e.write, e.timeout, e.status))
end
