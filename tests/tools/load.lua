-- load.lua — wrk script for tests/integration/89-load.sh: reads only
-- (index.yaml, chart tarballs, JSON API), with basic auth, over the request
-- paths listed one a line in the file $LOAD_PATHS (round robin, each
-- thread from its own offset).  At the end prints one line:
--   load requests=N 2xx=N 3xx=N 4xx=N 5xx=N
-- (wrk itself reports socket errors and non-2xx/3xx responses).

local threads = {}

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	local hdr = { ["Authorization"] = os.getenv("LOAD_AUTH") }
	reqs = {}
	for l in io.lines(os.getenv("LOAD_PATHS")) do
		if l ~= "" then reqs[#reqs + 1] = wrk.format("GET", l, hdr) end
	end
	i = tid * 7
	c2, c3, c4, c5 = 0, 0, 0, 0
end

function request()
	i = i + 1
	return reqs[(i % #reqs) + 1]
end

function response(status, headers, body)
	if status >= 500 then c5 = c5 + 1
	elseif status >= 400 then c4 = c4 + 1
	elseif status >= 300 then c3 = c3 + 1
	else c2 = c2 + 1 end
end

function done(summary, latency, requests)
	local t2, t3, t4, t5 = 0, 0, 0, 0
	for _, t in ipairs(threads) do
		t2 = t2 + t:get("c2"); t3 = t3 + t:get("c3")
		t4 = t4 + t:get("c4"); t5 = t5 + t:get("c5")
	end
	io.write(string.format("load requests=%d 2xx=%d 3xx=%d 4xx=%d 5xx=%d\n",
		summary.requests, t2, t3, t4, t5))
end
