-- wrk script: each request carries the next token of $TOKENS (one per
-- line), round robin, so the server sees many distinct tokens.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = "Bearer " .. line
end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/me", { ["Authorization"] = tokens[i] })
end
