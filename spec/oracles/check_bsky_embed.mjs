// Checks Bluesky records socialize built against the lexicons of
// @atproto/api (app.bsky.feed.post with app.bsky.embed.images /
// app.bsky.embed.external), and the sandbox's blob refs against
// multiformats' CID (CIDv1, raw codec, sha2-256). Reads one JSON document on
// stdin: { records: [{name, record}], cids: [{hex, cid}] } (hex: the bytes)
// and prints { failures: [...], checked: n }.
import { lexicons } from '@atproto/api';
import { jsonToLex } from '@atproto/lexicon';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import * as raw from 'multiformats/codecs/raw';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', async () => {
  const doc = JSON.parse(input);
  const failures = [];
  let checked = 0;
  for (const r of doc.records || []) {
    checked++;
    try {
      lexicons.assertValidRecord('app.bsky.feed.post', jsonToLex(r.record));
    } catch (e) {
      failures.push({ name: r.name, why: e.message });
    }
  }
  for (const c of doc.cids || []) {
    checked++;
    const bytes = Buffer.from(c.hex, 'hex');
    const want = CID.create(1, raw.code, await sha256.digest(bytes)).toString();
    if (want !== c.cid) failures.push({ name: 'cid of ' + c.hex.slice(0, 16), why: `want ${want} got ${c.cid}` });
  }
  process.stdout.write(JSON.stringify({ failures, checked }));
});
