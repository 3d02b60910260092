// The other end of Cairn's notifications, for tests/notifications.rs: an
// SMTP server (nodemailer's smtp-server, messages read by mailparser) and a
// webhook receiver (node:http) that checks each request's Cairn-Signature
// with node:crypto, written from the documented rule alone.
//
// Usage: node sinks.mjs SECRET_FILE FAIL_WEBHOOK FAIL_MAIL HOLD_TYPE
//   the first FAIL_WEBHOOK webhook requests are answered 503, the first
//   FAIL_MAIL messages are refused with a temporary 451; after those, the
//   first webhook event of type HOLD_TYPE gets no answer until "release" is
//   read on stdin (the test kills the node meanwhile).
// Prints one JSON line when listening ({"smtp": port, "webhook": port}),
// then one per message received.
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const [secretFile, failWebhook, failMail, holdType] = process.argv.slice(2);
const secret = readFileSync(secretFile, 'utf8').trim();
let webhookFailuresLeft = Number(failWebhook);
let mailFailuresLeft = Number(failMail);
let held = null;
let holding = holdType;
const say = (v) => process.stdout.write(JSON.stringify(v) + '\n');
/** A receiver refuses signatures older than this: a replay. */
const TOLERANCE_SECONDS = 300;

function verify(header, body) {
  const parts = Object.fromEntries(
    (header || '').split(',').map((p) => p.split('=', 2)).filter((p) => p.length === 2));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return 'malformed';
  if (Math.abs(Date.now() / 1000 - t) > TOLERANCE_SECONDS) return 'stale';
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'forged';
}

const webhook = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const signature = verify(req.headers['cairn-signature'], body);
    let event = null;
    try { event = JSON.parse(body.toString('utf8')); } catch { /* reported below */ }
    if (signature !== 'valid') {
      say({ sink: 'webhook', outcome: 'refused', signature, event });
      res.writeHead(400).end();
      return;
    }
    if (webhookFailuresLeft > 0) {
      webhookFailuresLeft -= 1;
      say({ sink: 'webhook', outcome: 'failed', event });
      res.writeHead(503).end();
      return;
    }
    if (holding && event && event.type === holding) {
      holding = null;
      held = res;
      say({ sink: 'webhook', outcome: 'held', event });
      return;
    }
    say({ sink: 'webhook', outcome: 'accepted', event, contentType: req.headers['content-type'] });
    res.writeHead(204).end();
  });
});

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    simpleParser(stream).then((mail) => {
      if (mailFailuresLeft > 0) {
        mailFailuresLeft -= 1;
        say({ sink: 'mail', outcome: 'failed', messageId: mail.messageId });
        const e = new Error('try again later');
        e.responseCode = 451;
        callback(e);
        return;
      }
      say({
        sink: 'mail',
        outcome: 'accepted',
        to: session.envelope.rcptTo.map((r) => r.address),
        from: session.envelope.mailFrom.address,
        subject: mail.subject,
        text: mail.text,
        messageId: mail.messageId,
      });
      callback();
    }, callback);
  },
});

// A node killed mid-conversation resets its connections (the mailer keeps a
// pool open): that is the test's doing, not a fault of the sinks, and must not
// stop them.
const shrug = (err) => process.stderr.write(`sinks: ${err.code || err.message}\n`);
smtp.on('error', shrug);
webhook.on('clientError', (err, socket) => { shrug(err); socket.destroy(); });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'release' && held) {
    // The node that sent it is gone: drop the connection unanswered.
    held.socket?.destroy();
    held = null;
  }
});

webhook.listen(0, '127.0.0.1', () => {
  smtp.listen(0, '127.0.0.1', () => {
    say({ smtp: smtp.server.address().port, webhook: webhook.address().port });
  });
});
