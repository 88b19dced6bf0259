-- Deterministic corpus for spec/oracle_spec.lua: mixed scripts, emoji
-- sequences of every kind, combining marks and NFD text, bare domains, URLs
-- after every punctuation mark and in parentheses, trailing punctuation, and
-- texts at and one past each network's limit. Returns a list of strings.
local M = {}

local WORDS = {
    "level", "done", "score", "café", "naïve", "日本語", "テスト", "中文字", "한국어", "안녕하세요",
    "مرحبا", "العربية", "שלום", "עברית", "नमस्ते", "हिन्दी", "Ελλάδα", "Привет", "ok",
}
local EMOJI = {
    "👍", "👍🏽", "👍🏿", "🇫🇷", "🇯🇵", "🇺🇳", "👨‍👩‍👧‍👦", "👩‍💻", "👩🏽‍💻", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤",
    "☺️", "1️⃣", "#️⃣", "*️⃣", "✌🏻", "🤷‍♀️", "🧑‍🤝‍🧑", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🚀", "🥰", "🫠", "©", "™", "↔️", "👁️‍🗨️",
}
local COMBINING = { "e\204\129", "a\204\136", "n\204\131", "o\204\130\204\129", "Z\205\164\205\160" } -- NFD
local URLS = {
    "https://game.example/l3", "https://example.com/a/b?c=d&e=f#top", "http://t.co/abc",
    "https://en.wikipedia.org/wiki/Foo_(bar)", "https://docs.python.org/3/library/",
    "spaceminers.com", "docs.python.org/3", "www.example.org", "example.co.uk/path", "sub.domain.io",
}
local PUNCT = { ":", ";", ",", ".", "!", "?", "(", ")", "[", "]", "\"", "'", "-", "/", "«", "“", "、", "。", "：" }

local seed = 20240601
local function rnd(n) -- LCG, the same on every Lua
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n + 1
end
local function pick(t) return t[rnd(#t)] end

local function filler(n)
    local parts = {}
    for i = 1, n do
        local k = rnd(10)
        if k <= 5 then parts[#parts + 1] = pick(WORDS)
        elseif k <= 7 then parts[#parts + 1] = pick(EMOJI)
        elseif k <= 8 then parts[#parts + 1] = pick(COMBINING)
        elseif k <= 9 then parts[#parts + 1] = pick(URLS)
        else parts[#parts + 1] = "#" .. pick(WORDS) end
    end
    return table.concat(parts, " ")
end

function M.texts()
    local out = {}
    seed = 20240601
    local function add(s) out[#out + 1] = s end
    -- URLs right after every punctuation mark, in parentheses, with trailing punctuation
    for _, p in ipairs(PUNCT) do
        for _, u in ipairs({ URLS[1], URLS[6], URLS[7] }) do
            add("Link" .. p .. u .. " now")
            add("see " .. u .. p)
        end
    end
    for _, u in ipairs(URLS) do
        add("(" .. u .. ") after")
        add("(" .. u .. "#top) now.")
        add(u .. "!?")
        add("#tag " .. u .. "; #другой #123 #a1")
    end
    -- every emoji alone, repeated to the limits
    for _, e in ipairs(EMOJI) do
        add(e)
        add(string.rep(e, 140))
        add(string.rep(e .. " ", 141))
    end
    -- scripts repeated to and past each limit (ASCII 280/281, 300/301, 500/501)
    for _, n in ipairs({ 279, 280, 281, 299, 300, 301, 499, 500, 501 }) do
        add(string.rep("a", n))
        add(string.rep("é", n))
        add(string.rep("e\204\129", n)) -- NFD é
        add(string.rep("日", n))
        add(string.rep("😀", n))
    end
    -- the Bluesky byte limit: 300 graphemes of 10+ bytes
    add(string.rep("👨‍👩‍👧‍👦", 300))
    add(string.rep("🏳️‍🌈", 301))
    add(string.rep("ह्", 1500))
    -- random mixes of growing length
    while #out < 560 do
        add(filler(rnd(90)))
    end
    return out
end

return M
