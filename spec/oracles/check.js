// Checks the texts socialize emitted against the networks' own reference
// code: twitter-text (X), @atproto/api (Bluesky), and Mastodon's count
// (grapheme clusters by Intl.Segmenter, URLs with a protocol as 23 characters,
// as status_length_validator.rb does). Reads one JSON document on stdin:
//   { x: [{input, text}], bluesky: [{input, text, facets}], mastodon: [{input, text}] }
// and prints one JSON document: { failures: [...], counted: {...} }.
'use strict';
const twitter = require('twitter-text');
let RichText; // @atproto/api is an ES module

const seg = new Intl.Segmenter('en', { granularity: 'grapheme' });
const graphemes = (s) => [...seg.segment(s)].length;
const utf8 = (s) => Buffer.byteLength(s, 'utf8');

function mastodonCount(s) {
  const urls = twitter.extractUrlsWithIndices(s, { extractUrlsWithoutProtocol: false });
  let out = '', at = 0;
  for (const u of urls) { out += s.slice(at, u.indices[0]) + 'x'.repeat(23); at = u.indices[1]; }
  return graphemes(out + s.slice(at));
}

function xCount(s) { return twitter.parseTweet(s).weightedLength; }

// @atproto/api's detection, run in a fresh process: a long run in one
// process has been seen to drift by a few bytes, so a difference is confirmed
// there before it counts
let freshLeft = 20; // bounded: past that a difference counts as it is
function fresh(text) {
  if (freshLeft-- <= 0) return null;
  const out = require('child_process').execFileSync(process.execPath, ['--input-type=module', '-e',
    "import { RichText } from '@atproto/api'; let s = ''; process.stdin.on('data', (d) => { s += d; });" +
    "process.stdin.on('end', () => { const rt = new RichText({ text: s }); rt.detectFacetsWithoutResolution();" +
    "process.stdout.write(JSON.stringify(rt.facets || [])); });"], { input: text, cwd: __dirname, timeout: 20000 });
  return JSON.parse(out).filter((f) => f.features[0].$type !== 'app.bsky.richtext.facet#mention').map(key).sort();
}

const key = (f) => JSON.stringify([f.index.byteStart, f.index.byteEnd, f.features[0].$type,
  f.features[0].uri || f.features[0].tag]);

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', async () => {
  ({ RichText } = await import('@atproto/api'));
  const doc = JSON.parse(input);
  const failures = [];
  const fail = (net, i, why, c) => failures.push({ net, i: c.n, why, input: c.input, text: c.text });
  (doc.x || []).forEach((c, i) => {
    const p = twitter.parseTweet(c.text);
    if (!p.valid) fail('x', i, `not valid per parseTweet: weightedLength ${p.weightedLength}`, c);
    else if (xCount(c.input) > 280 && p.weightedLength < 250)
      fail('x', i, `over-cut: ${p.weightedLength} < 250 for an input of ${xCount(c.input)}`, c);
  });
  (doc.bluesky || []).forEach((c, i) => {
    const g = graphemes(c.text), b = utf8(c.text);
    if (g > 300) fail('bluesky', i, `${g} graphemes > 300`, c);
    if (b > 3000) fail('bluesky', i, `${b} bytes > 3000`, c);
    if (g === 0) fail('bluesky', i, 'empty text', c);
    const rt = new RichText({ text: c.text });
    rt.detectFacetsWithoutResolution();
    const want = (rt.facets || []).filter((f) => f.features[0].$type !== 'app.bsky.richtext.facet#mention')
      .map(key).sort();
    const got = (c.facets || []).map(key).sort();
    if (JSON.stringify(want) !== JSON.stringify(got) && JSON.stringify(fresh(c.text)) !== JSON.stringify(got))
      fail('bluesky', i, `facets differ: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`, c);
    const ig = graphemes(c.input), ib = utf8(c.input);
    if ((ig > 300 || ib > 3000) && g < 250 && b < 2500) fail('bluesky', i, `over-cut: ${g} graphemes, ${b} bytes`, c);
  });
  (doc.mastodon || []).forEach((c, i) => {
    const n = mastodonCount(c.text);
    if (n > 500) fail('mastodon', i, `count ${n} > 500`, c);
    if (mastodonCount(c.input) > 500 && n < 450) fail('mastodon', i, `over-cut: ${n} < 450`, c);
  });
  process.stdout.write(JSON.stringify({ failures,
    counted: { x: (doc.x || []).length, bluesky: (doc.bluesky || []).length, mastodon: (doc.mastodon || []).length } }));
});
