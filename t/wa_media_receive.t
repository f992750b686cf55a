# WhatsApp -> Chatwoot media through nginx: the loopback WhatsApp server's
# contacts send media (encrypted and uploaded by the mock's own media
# code); the helper asks media_conn, downloads each blob over TLS from the
# host it names (trusting whatsapp_server's ca_file=), verifies and
# decrypts it as it streams, and posts it as attachments[]: each kind once,
# bytes identical by SHA-256, the right content type and file name, the
# caption as content.  A forged MAC, a corrupt body, a truncated body and
# an oversize file each give a note and no attachment; a 503 is retried;
# view-once media is a note; a helper killed while a download is held up,
# or in the middle of a body, still ends with the message once and no
# partial file.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::MediaFiles qw(noise_bytes);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
$t->allow_log(qr/WhatsApp media not fetched/);
my $dir = $t->dir;

# A test CA and a certificate for localhost: media hosts are fetched over
# TLS only, verified.
$t->tls_test_certs('ca');

my $wa = ChatwootTest::WaMock->start_tls_media($t);
my $max = 200 * 1024;
my ($port) = $t->start_wa(wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem")
                                                   . "\n        whatsapp_media_max 200k;");
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

# Every message in the fake Chatwoot by its WhatsApp id.

sub in_chatwoot {
    my ($id, $what) = @_;
    my $m = $t->wait_for(sub { ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$id} }, 30, "$what in Chatwoot");
    is(scalar @$m, 1, "$what: once in Chatwoot");
    return $m->[0];
}

# Bytes that are not all alike, of a given length.

$wa->wa_contact('4915100000001', name => 'Ana');

# --- each kind, bytes identical -------------------------------------------
my @kinds = (
    [image => { data => noise_bytes(70_000, 1), mimetype => 'image/jpeg', caption => 'a photo' },
     'image/jpeg', qr/\.jpg$/, 'a photo'],
    [document => { data => noise_bytes(30_001, 2), mimetype => 'application/pdf',
                   file_name => 'Relatório 2026.pdf', caption => 'the report' },
     'application/pdf', qr/^Relatório 2026\.pdf$/, 'the report'],
    [sticker => { data => noise_bytes(9_000, 3), mimetype => 'image/webp' },
     'image/webp', qr/\.webp$/, ''],
    [ptt => { data => noise_bytes(12_345, 4), mimetype => 'audio/ogg; codecs=opus' },
     'audio/ogg', qr/\.ogg$/, ''],
    [video => { data => noise_bytes(150_000, 5), mimetype => 'video/mp4', caption => 'clip' },
     'video/mp4', qr/\.mp4$/, 'clip'],
    [gif => { data => noise_bytes(20_000, 6), mimetype => 'video/mp4' },
     'video/mp4', qr/\.mp4$/, ''],
    [audio => { data => noise_bytes(5_000, 7), mimetype => 'audio/mpeg' },
     'audio/mpeg', qr/\.mp3$/, ''],
);
for my $k (@kinds) {
    my ($kind, $spec, $type, $name, $caption) = @$k;
    my $since = $wa->last_seq;
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => $kind, %$spec);
    my $rc = $wa->wait_receipt_in(id => $sent->{id}, since => $since);
    is($rc->{receipt_type}, 'delivery', "$kind: a delivery receipt");
    my $m = in_chatwoot($sent->{id}, $kind);
    is(scalar @{$m->{attachments} // []}, 1, "$kind: one attachment");
    my $a = $m->{attachments}[0] // {};
    is($a->{sha256}, sha256_hex($spec->{data}), "$kind: the bytes, identical by SHA-256");
    like($a->{content_type} // '', qr/^\Q$type\E/, "$kind: content type $type");
    like($a->{file_name} // '', $name, "$kind: its file name");
    is($m->{content} // '', $caption, "$kind: the caption as content");
}

# --- refused bodies: a note, no attachment -------------------------------
sub refused {
    my ($what, $note, %o) = @_;
    my $setup = delete $o{setup};
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'image',
                                     data => noise_bytes(40_000, 9), mimetype => 'image/jpeg', %o);
    $setup->($sent) if $setup;
    my $m = in_chatwoot($sent->{id}, $what);
    is(scalar @{$m->{attachments} // []}, 0, "$what: no attachment");
    like($m->{content} // '', $note, "$what: a note says why");
    return $m;
}
refused('a forged MAC', qr/media damaged or forged/, forge => 'mac');
$wa->media_serve(mode => 'corrupt');
refused('a corrupt body', qr/media damaged or forged/);
$wa->media_serve(mode => 'short');
refused('a short body', qr/media damaged or forged/);
refused('an oversize file', qr/media too large: over the 200k limit/, data => noise_bytes($max + 1, 10));
refused('an oversize file that claims to be small', qr/media too large|damaged or forged/,
        data => noise_bytes($max + 5000, 11), file_length => 1000);
refused('view-once', qr/view-once image received: not shown here/, view_once => 1);
# Expired, and the phone no longer has it either (t/wa_media_retry.t has
# the rest of media retry).
$wa->media_retry_answer('3EB0EXPIRED0000000001', 'not_found');
refused('an expired blob', qr/media no longer available on WhatsApp/, expired => 410,
        id => '3EB0EXPIRED0000000001');

# --- a 503, then success --------------------------------------------------
$wa->media_fail(count => 1, op => 'download', mode => 'status', status => 503);
{
    my $data = noise_bytes(25_000, 12);
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'image', data => $data,
                                     mimetype => 'image/png', caption => 'after a 503');
    my $m = in_chatwoot($sent->{id}, 'after a 503');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'after a 503: retried, the bytes arrive');
}
$wa->media_fail(count => 1, op => 'download', mode => 'reset');
{
    my $data = noise_bytes(25_000, 13);
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'image', data => $data,
                                     mimetype => 'image/png', caption => 'after a reset');
    my $m = in_chatwoot($sent->{id}, 'after a reset');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'after a reset: retried, the bytes arrive');
}
$wa->media_serve(mode => 'truncate');
{
    my $data = noise_bytes(60_000, 14);
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'image', data => $data,
                                     mimetype => 'image/png');
    my $m = in_chatwoot($sent->{id}, 'a truncated body (a reset) then the whole');
    is($m->{attachments}[0]{sha256}, sha256_hex($data),
       'a body cut off is fetched again whole, nothing partial kept');
}

# --- media_conn: asked once, kept for its ttl ------------------------------
is(scalar @{$wa->events(type => 'media-conn')}, 1,
   'media_conn asked once for all the downloads so far (kept for its ttl)');

# --- a helper killed while the download cannot succeed ---------------------
# Every download fails for a while: the row is filed (and receipted), the
# file is not there; the helper is killed, and the next one fetches it from
# the row.
{
    $wa->media_fail(count => 1000, op => 'download', mode => 'status', status => 503);
    my $data = noise_bytes(33_333, 15);
    my $since = $wa->last_seq;
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'document', data => $data,
                                     mimetype => 'application/pdf', file_name => 'kill.pdf');
    $wa->wait_receipt_in(id => $sent->{id}, since => $since);
    $t->wait_for(sub { @{$t->sql("SELECT 1 FROM wa_inbound WHERE wa_id = '$sent->{id}'")} }, 20,
                 'the row is filed');
    $wa->wait_match('media-download', since => $since);
    ok(!ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$sent->{id}}, 'not posted while its file is missing');
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $wa->media_fail(count => 0, op => 'download');
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    my $m = in_chatwoot($sent->{id}, 'after a helper kill');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'after a helper kill: the file, once');
    my @left = glob("$t->{state}/media/*.part");
    is(scalar @left, 0, 'no temporary file left behind') or diag "@left";
}

# --- a helper killed while a body streams ---------------------------------
# The mock sends half the blob and holds the rest: the helper has written
# part of the file when it is killed; the next one downloads it whole from
# the row, and nothing partial is left.
{
    my $data = noise_bytes(150_000, 16);
    $wa->media_serve(mode => 'slow');
    my $since = $wa->last_seq;
    my $sent = $wa->wa_media_message(from => '4915100000001', kind => 'video', data => $data,
                                     mimetype => 'video/mp4', caption => 'mid-body');
    my $half = $wa->wait_match('media-download-half', since => $since, timeout => 30);
    ok($half->{sent} > 0 && $half->{sent} < $half->{length}, 'mid-body: half the blob sent');
    my ($part) = $t->wait_for(sub { my @p = grep { -s $_ } glob("$t->{state}/media/*.part"); @p ? \@p : undef },
                              20, 'the helper writing the file')->[0];
    ok($part, 'mid-body: the helper has written part of the file');
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $wa->wait_match('media-download-gone', since => $since, timeout => 30);
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    my $m = in_chatwoot($sent->{id}, 'after a kill mid-body');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'mid-body: the whole file, once, the right bytes');
    is($m->{content} // '', 'mid-body', 'mid-body: its caption');
    my @left = glob("$t->{state}/media/*.part");
    is(scalar @left, 0, 'mid-body: no temporary file left behind') or diag "@left";
}

$t->finish;
done_testing;
