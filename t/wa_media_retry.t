# Expired WhatsApp media asked of the phone again (issue 11, media retry),
# through nginx, the fake Chatwoot and the loopback WhatsApp server, whose
# phone checks our <receipt type="server-error"> (to our own user, <rmr>,
# the GCM seal under the message's media key) before it answers:
#   - success: the phone uploads the file again, the helper downloads the
#     new direct path, and Chatwoot gets the image once, bytes identical;
#     a text the contact sent after it comes after it (order per chat); in
#     groups (PN and LID addressed) the receipt names the sender too;
#   - not_found, decryption_error, general_error: the note "media no longer
#     available on WhatsApp", once;
#   - an answer sealed under another key (the phone silent otherwise): the
#     note; one for a message never asked about: logged and ignored;
#   - the helper killed while it waits for the phone: the next helper
#     downloads again, asks again, and the image arrives once.
# The bound on a phone that never answers (MediaRetryDesk::kAnswerWait,
# 2 min) is checked on a fake clock in t/unit/helper/media_fetcher_test.cpp.
use strict;
use warnings;
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
my $dir = $t->dir;
$t->tls_test_certs('ca');

my $wa = ChatwootTest::WaMock->start_tls_media($t);
$t->start_wa(wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"));
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $ana = '4915100000001';
$wa->wa_contact($ana, name => 'Ana');

# Every message in the fake Chatwoot by its WhatsApp id.

sub in_chatwoot {
    my ($id, $what) = @_;
    my $m = $t->wait_for(sub { ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$id} }, 30, "$what in Chatwoot");
    is(scalar @$m, 1, "$what: once in Chatwoot");
    return $m->[0];
}


sub log_has {
    my ($re, $what) = @_;
    return $t->wait_for(sub { $t->read_file('error.log') =~ $re }, 20, $what);
}

my $n = 0;
# An expired image from Ana whose retry the phone answers with $result.
sub expired_image {
    my ($result, %o) = @_;
    my $id = sprintf('3EB0RETRY%012d', ++$n);
    $wa->media_retry_answer($id, $result) if $result;
    my $data = noise_bytes($o{size} // 30_000, $n);
    my $sent = $wa->wa_media_message(from => $ana, kind => 'image', data => $data,
                                     mimetype => 'image/jpeg', caption => $o{caption},
                                     expired => 410, id => $id);
    return ($sent, $data);
}

# --- success: uploaded again, downloaded, bridged once; order kept --------
{
    my $since = $wa->last_seq;
    my ($sent, $data) = expired_image('success', caption => 'an old photo');
    # The contact writes again before the photo can be in Chatwoot.
    my $text = $wa->wa_message(from => $ana, message => { conversation => 'did you see it?' });
    my $ev = $wa->wait_match('media-retry', id => $sent->{id}, since => $since, timeout => 30);
    is($ev->{result}, 'success', 'success: the phone read our receipt (its checks passed) and answered');
    ok(!@{$wa->events(type => 'refused', since => $since)}, 'success: nothing refused by the phone');
    my $gone = grep { ($_->{status} // 0) == 410 } @{$wa->events(type => 'media-download', since => $since)};
    ok($gone >= 1, 'success: the first download was refused 410');
    my $m = in_chatwoot($sent->{id}, 'success');
    is(scalar @{$m->{attachments} // []}, 1, 'success: one attachment');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'success: the bytes, identical by SHA-256');
    is($m->{content} // '', 'an old photo', 'success: the caption');
    my $ack = $wa->wait_match('ack-in', id => $sent->{id}, class => 'notification', since => $since);
    ok($ack, 'success: the mediaretry notification was acked');
    my $after = in_chatwoot($text->{id}, 'the text after it');
    ok($after->{id} > $m->{id}, 'the later text comes after the media message in Chatwoot');
    my @asked = grep { ($_->{receipt_type} // '') eq 'server-error' && $_->{id} eq $sent->{id} }
        @{$wa->events(type => 'receipt-in', since => $since)};
    is(scalar @asked, 1, 'success: the phone was asked once');
}

# --- in groups: the receipt names the sender too (PN and LID groups) -------
for my $mode (qw(pn lid)) {
    my $g = $wa->wa_group(subject => "Retry $mode", addressing_mode => $mode, participants => [$ana]);
    my $since = $wa->last_seq;
    my $id = sprintf('3EB0GROUP%s%09d', uc $mode, ++$n);
    $wa->media_retry_answer($id, 'success');
    my $data = noise_bytes(20_000, $n);
    my $sent = $wa->wa_media_message(from => $ana, chat => $g->{jid}, kind => 'image', data => $data,
                                     mimetype => 'image/png', expired => 404, id => $id);
    my $ev = $wa->wait_match('media-retry', id => $id, since => $since, timeout => 30);
    is($ev->{result}, 'success', "group ($mode): the phone took the receipt (chat and participant checked)");
    my $m = in_chatwoot($id, "group ($mode)");
    is($m->{attachments}[0]{sha256}, sha256_hex($data), "group ($mode): the bytes, identical by SHA-256");
}

# --- the phone cannot: the note, once --------------------------------------
for my $result (qw(not_found decryption_error general_error)) {
    my $since = $wa->last_seq;
    my ($sent) = expired_image($result, caption => "cap $result");
    my $ev = $wa->wait_match('media-retry', id => $sent->{id}, since => $since, timeout => 30);
    is($ev->{result}, $result, "$result: the phone answered so");
    my $m = in_chatwoot($sent->{id}, $result);
    is(scalar @{$m->{attachments} // []}, 0, "$result: no attachment");
    like($m->{content} // '', qr/^\[media no longer available on WhatsApp\]\ncap \Q$result\E$/,
         "$result: the note, and the caption");
}

# --- answers that do not open, and answers nobody asked for ---------------
sub mediaretry_note {
    my ($id, $rmr) = @_;
    my $hex = sub { join '', map { sprintf '%02x', int rand 256 } 1 .. $_[0] };
    return { tag => 'notification',
             attrs => { from => 's.whatsapp.net', type => 'mediaretry', id => $id, t => '' . time },
             content => [ { tag => 'rmr', attrs => $rmr },
                          { tag => 'encrypt', attrs => {},
                            content => [ { tag => 'enc_p', attrs => {}, content => { hex => $hex->(80) } },
                                         { tag => 'enc_iv', attrs => {}, content => { hex => $hex->(12) } } ] } ] };
}
{
    # Never asked about: logged, nothing else happens.
    $wa->send_nodes([mediaretry_note('3EB0NEVERASKED000001',
                                     { jid => "$ana\@s.whatsapp.net", from_me => 'false' })]);
    log_has(qr/media retry answer for message 3EB0NEVERASKED000001 ignored/,
            'the stray answer is logged');
    ok(!ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{'3EB0NEVERASKED000001'}, 'a stray answer puts nothing into Chatwoot');

    # Asked, the phone silent; an answer comes that is not sealed with the
    # message's media key: the note.
    my $since = $wa->last_seq;
    my ($sent) = expired_image('never');
    $wa->wait_match('media-retry', id => $sent->{id}, since => $since, timeout => 30);
    $wa->send_nodes([mediaretry_note($sent->{id}, { jid => "$ana\@s.whatsapp.net", from_me => 'false' })]);
    my $m = in_chatwoot($sent->{id}, 'an answer that does not open');
    is(scalar @{$m->{attachments} // []}, 0, 'an answer that does not open: no attachment');
    like($m->{content} // '', qr/^\[media no longer available on WhatsApp\]/,
         'an answer that does not open: the note');
    log_has(qr/answer to the media retry for WhatsApp message \Q$sent->{id}\E does not open/,
            'the answer that does not open is logged');
}

# --- the helper killed while it waits for the phone ------------------------
{
    my $since = $wa->last_seq;
    my ($sent, $data) = expired_image('never', caption => 'after a kill');
    $wa->wait_match('media-retry', id => $sent->{id}, since => $since, timeout => 30);
    ok(!ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$sent->{id}}, 'kill: not posted while the phone is asked');
    # The phone is back for the next ask (this one's answer, none, is
    # decided already: the mock read the receipt).
    $wa->media_retry_answer($sent->{id}, 'success');
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    my $m = in_chatwoot($sent->{id}, 'after a kill');
    is($m->{attachments}[0]{sha256}, sha256_hex($data), 'kill: asked again, the file arrives once');
    my @asked = grep { ($_->{receipt_type} // '') eq 'server-error' && $_->{id} eq $sent->{id} }
        @{$wa->events(type => 'receipt-in', since => $since)};
    is(scalar @asked, 2, 'kill: the phone was asked once per helper');
    my @left = glob("$t->{state}/media/*.part");
    is(scalar @left, 0, 'kill: no temporary file left behind') or diag "@left";
}

$t->finish;
done_testing;
