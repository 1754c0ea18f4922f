-- The gateway's one piece of code (inlined into envoy.yaml by scripts/gen_envoy.py): a REST body that names a
-- field twice is refused before the transcoder, which would keep the last value ({"amount": "1", "amount": "2"}
-- is a deposit of 2). Proto3 JSON names a field at most once; the services' own REST adapter refuses the same
-- body with the same answer (adapters/inbound/rest/transcoding.py DUPLICATE_FIELD). Envoy has no filter for it.
--
-- Keys are compared as protobuf reads them: escapes decoded ("a" and "\u0061" are one key) and snake_case
-- taken as its lowerCamelCase JSON name ("account_number" and "accountNumber" are one field). Our contracts have
-- no map fields, whose keys are data and would not be renamed. A body that is not JSON at all is left to the
-- transcoder, which refuses it. tests/gateway/test_gateway.py runs every case through the real Envoy.

local REFUSAL_STATUS = "@STATUS@"
local REFUSAL_BODY = [==[@BODY@]==]

local SIMPLE_ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function utf8_char(cp)
  if cp < 0x80 then
    return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(
    0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40,
    0x80 + cp % 0x40
  )
end

-- The string starting at the quote at `i`, decoded; and the index after its closing quote (nil if malformed).
local function read_string(s, i)
  local parts, j = {}, i + 1
  while true do
    local k = s:find('["\\]', j)
    if not k then
      return nil
    end
    parts[#parts + 1] = s:sub(j, k - 1)
    if s:byte(k) == 34 then -- '"'
      return table.concat(parts), k + 1
    end
    local escape = s:sub(k + 1, k + 1)
    if escape == "u" then
      local cp = tonumber(s:sub(k + 2, k + 5):match("^%x%x%x%x$") or "", 16)
      if not cp then
        return nil
      end
      j = k + 6
      local low = tonumber(s:sub(k + 8, k + 11):match("^%x%x%x%x$") or "", 16)
      if cp >= 0xD800 and cp < 0xDC00 and s:sub(k + 6, k + 7) == "\\u" and low and low >= 0xDC00 and low < 0xE000 then
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00) -- a surrogate pair is one character
        j = k + 12
      end
      parts[#parts + 1] = utf8_char(cp)
    elseif SIMPLE_ESCAPES[escape] then
      parts[#parts + 1] = SIMPLE_ESCAPES[escape]
      j = k + 2
    else
      return nil
    end
  end
end

-- protobuf's JSON name of a field name: each underscore dropped, the letter after it upper-cased.
local function json_name(key)
  return (key:gsub("_+(.?)", string.upper))
end

-- True if some object of the document has one key twice; false otherwise (and for what is not JSON).
local function names_a_field_twice(s)
  local open = {} -- per open container: a set of the keys seen (object) or false (array)
  local expect_key = false
  local i = 1
  while true do
    local k = s:find('[{}%[%]",:]', i)
    if not k then
      return false
    end
    local c = s:byte(k)
    if c == 34 then -- a string: a key where one is expected, else a value
      local text, after = read_string(s, k)
      if not text then
        return false
      end
      local keys = open[#open]
      if expect_key and keys then
        local name = json_name(text)
        if keys[name] then
          return true
        end
        keys[name] = true
      end
      expect_key = false
      i = after
    else
      if c == 123 then -- {
        open[#open + 1] = {}
        expect_key = true
      elseif c == 91 then -- [
        open[#open + 1] = false
        expect_key = false
      elseif c == 125 or c == 93 then -- } ]
        open[#open] = nil
        expect_key = false
      elseif c == 44 then -- ,
        expect_key = open[#open] ~= false and open[#open] ~= nil
      else -- :
        expect_key = false
      end
      i = k + 1
    end
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local content_type = headers:get("content-type") or ""
  if content_type:find("^application/grpc") then
    return -- a gRPC call's body is a protobuf message, not JSON
  end
  local method = headers:get(":method")
  if method ~= "POST" and method ~= "PUT" and method ~= "PATCH" then
    return
  end
  local body = handle:body()
  if body == nil or body:length() == 0 then
    return
  end
  if names_a_field_twice(body:getBytes(0, body:length())) then
    handle:respond({ [":status"] = REFUSAL_STATUS, ["content-type"] = "application/json" }, REFUSAL_BODY)
  end
end
