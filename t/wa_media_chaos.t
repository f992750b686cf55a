# Issue 11's media chaos round: MEDIA_CHAOS_MESSAGES (12; `./build.sh
# chaos` runs 60) media messages each way through real nginx, the fake
# Chatwoot and the loopback WhatsApp server (TLS media host), of every kind:
# contacts send images, documents, voice notes, videos, stickers, audio and
# GIFs; agents attach JPEGs, PDFs, WebM voice notes (sent as ptt), MP4s and
# MP3s, some two at a time; three contacts, each with its conversation.
# Meanwhile:
#   - downloads and uploads fail with 503 and with connection resets (the
#     mock's media-fail, each fault waited for until it landed);
#   - a download is held mid-body (media-serve slow: half the blob sent,
#     the helper writing its .part) when the helper is killed with SIGKILL;
#   - an upload is held mid-body (media-serve op=upload: half read, no
#     answer) when the helper is killed again;
#   - the fake Chatwoot fails about 10% of the bridge's requests (500,
#     resets, answers lost after the work was done), attachment fetches
#     included.
# Afterwards, counted from both ends: every contact's media message in
# Chatwoot exactly once with one attachment whose bytes are the sent ones
# (SHA-256), its content type and caption, in the order sent per
# conversation, each receipted; every agent attachment on WhatsApp exactly
# once: one WhatsApp id per part, distinct, delivered under that id only,
# checked and decrypted by the contact (the mock's media-received: the kind
# right, the bytes the agent attached, a voice note as OGG/Opus), in order
# per chat; every outbox entry sent; an upload made again at most once per
# kill; nothing left in <state>/media (.part, .enc, prep-*); no [error],
# [crit], [alert] or [emerg] in nginx's log beyond the kills' own lines.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use ChatwootTest qw(free_port);
use ChatwootTest::Exchange;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::MediaFiles qw(media_bytes noise_bytes);
use ChatwootTest::WaMock;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);

my $N = $ENV{MEDIA_CHAOS_MESSAGES} // 12;
$N =~ /^\d+$/ && $N >= 8 or BAIL_OUT("MEDIA_CHAOS_MESSAGES=$N: want a count of at least 8");
my $started = time;

my $t = ChatwootTest->new;
my $KILL_LINE = qr/cache manager process \d+ exited on signal 9/;
$t->allow_log($KILL_LINE);
my $dir = $t->dir;
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my $fake = free_port();
# Chatwoot's per-conversation flood guard is not the fault under test.
my ($port) = $t->start_wa(wa => $wa, fake => { port => $fake, flood_limit => 1_000_000 },
                          directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"));
my $x = ChatwootTest::Exchange->new($t, fake => $fake, port => $port);
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

# Bytes that are not all alike, of a given length.

# --- the world: three contacts, each with a conversation ----------------------
my @people = (
    { key => 'ana', phone => '4915400000001', addressing => 'pn' },
    { key => 'bo',  phone => '4915400000002', addressing => 'lid' },
    { key => 'cy',  phone => '4915400000003', addressing => 'pn' },
);
for my $c (@people) {
    my $r = $wa->wa_contact($c->{phone}, name => uc $c->{key});
    @$c{qw(pn lid)} = @$r{qw(pn lid)};
    $c->{first} = $wa->wa_message(from => $c->{phone}, message => { conversation => "hello from $c->{key}" },
                                  addressing => $c->{addressing}, push_name => uc $c->{key})->{id};
}
my $view = $t->wait_for(sub { my $v = $x->view; (grep { $v->{by_waid}{$_->{first}} } @people) == @people ? $v : undef },
                        60, 'the first message of each contact in Chatwoot');
$_->{conv} = $x->conversation_of($view, $_->{pn}, $_->{lid}) for @people;
ok((grep { $_->{conv} } @people) == @people, 'a conversation for each contact');

# --- what each side sends --------------------------------------------------------
# Contacts: [kind, spec, content type in Chatwoot, caption]; the bytes are
# made per message (random-looking, distinct).
my @in_kinds = (
    [image    => { mimetype => 'image/jpeg', caption => 'photo' },               'image/jpeg'],
    [document => { mimetype => 'application/pdf', file_name => 'Fatura nº.pdf',
                   caption => 'the invoice' },                                    'application/pdf'],
    [ptt      => { mimetype => 'audio/ogg; codecs=opus' },                        'audio/ogg'],
    [video    => { mimetype => 'video/mp4', caption => 'clip' },                  'video/mp4'],
    [sticker  => { mimetype => 'image/webp' },                                    'image/webp'],
    [audio    => { mimetype => 'audio/mpeg' },                                    'audio/mpeg'],
    [gif      => { mimetype => 'video/mp4' },                                     'video/mp4'],
);
# Agents: the attachments of one reply, each [what, file name, content
# type, Chatwoot file_type, the kind WhatsApp must get]; the bytes are real
# files made by ffmpeg (the send path probes them), a PDF random bytes.
my @out_kinds = (
    [[jpg => 'photo.jpg', 'image/jpeg', 'image', 'image']],
    [[pdf => 'Relatório.pdf', 'application/pdf', 'file', 'document']],
    [[webm => 'a1b2c3d4-voice.webm', 'audio/webm', 'audio', 'ptt']],
    [[mp4 => 'clip.mp4', 'video/mp4', 'video', 'video']],
    [[jpg => 'one.jpg', 'image/jpeg', 'image', 'image'], [pdf => 'two.pdf', 'application/pdf', 'file', 'document']],
    [[mp3 => 'song.mp3', 'audio/mpeg', 'audio', 'audio']],
);
my $seed = 0;
sub attachment_bytes {
    my ($what) = @_;
    $seed++;
    if ($what eq 'big') {
        # More than the loopback socket's buffers take: an upload of it held
        # half read leaves the helper's curl with bytes still to send.
        open my $fh, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
        read($fh, my $b, 6 << 20) == 6 << 20 or die "/dev/urandom: a short read\n";
        return $b;
    }
    return noise_bytes(40_000 + 997 * $seed, 1000 + $seed) if $what eq 'pdf';
    return media_bytes($what, $seed);
}

# --- the faults --------------------------------------------------------------------
# The fake Chatwoot fails about 10% of the bridge's requests, each way in
# three (rules are tried in order, each drawing on its own).
ChatwootTest::FakeChatwoot->set_faults($fake,
    { kind => '500', probability => 0.035 },
    { kind => 'lost_answer', probability => 0.035 / 0.965 },
    { kind => 'reset', probability => 0.035 / 0.93 });

# A media failure armed on the mock (media-fail: one at a time, a new one
# replaces the last) is waited for until it landed before the next is armed.
my @media_faults;
sub arm_media_fail {
    my (%f) = @_;
    settle_media_fail();
    push @media_faults, { %f, since => $wa->last_seq };
    $wa->media_fail(%f);
    note "armed: $f{op} $f{mode} x$f{count}";
}
sub landed {
    my ($f) = @_;
    my $type = $f->{op} eq 'upload' ? 'media-upload-failed' : 'media-download';
    return scalar grep { ($_->{failed} // '') eq $f->{mode} } @{$wa->events(type => $type, since => $f->{since})};
}
sub settle_media_fail {
    my $f = $media_faults[-1] or return;
    return if $f->{settled}++;
    $t->wait_for(sub { landed($f) >= $f->{count} }, 120, "the $f->{op} $f->{mode} failures to land");
}

my @kills;
# Kills the helper (SIGKILL) now; returns when a new one runs.
sub kill_helper {
    my ($why) = @_;
    my $pid = $t->status->{helper}{pid};
    kill 'KILL', $pid or die "kill KILL $pid: $!";
    push @kills, $why;
    note "killed the helper ($pid) $why";
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $pid
                           && $s->{helper}{state} eq 'running' }, 60, 'a new helper');
}

# --- the round -----------------------------------------------------------------------
my (@in, @out);      # {n, who, id, kind, sha, type, caption} / {n, who, cw, atts: [{sha, kind, bytes}]}
my $since_round = $wa->last_seq;
my %plan = (   # step (as a fraction of the round) -> the fault that comes with it
    0.08 => 'download-503', 0.16 => 'upload-503', 0.30 => 'kill-download',
    0.45 => 'upload-reset', 0.55 => 'download-reset', 0.66 => 'kill-upload',
    0.80 => 'download-503', 0.90 => 'upload-reset',
);
my @plan = map { [$_, $plan{$_}] } sort { $a <=> $b } keys %plan;

# A contact sends media message $n.
sub contact_sends {
    my ($n, %o) = @_;
    my $who = $people[$n % @people];
    my ($kind, $spec, $type) = @{$in_kinds[($n >> 1) % @in_kinds]};
    my $bytes = noise_bytes($o{size} // 20_000 + 4_111 * ($n % 23), $n);
    my $caption = $spec->{caption} ? "$spec->{caption} $n" : undef;
    my $r = $wa->wa_media_message(from => $who->{phone}, addressing => $who->{addressing}, kind => $kind,
                                  data => $bytes, %$spec, defined $caption ? (caption => $caption) : ());
    push @in, { n => $n, who => $who, id => $r->{id}, kind => $kind, sha => sha256_hex($bytes), type => $type,
                caption => $caption, file_name => $spec->{file_name} };
    return $r;
}

# An agent answers with message $n's attachments (or those of $set).
sub agent_sends {
    my ($n, $set) = @_;
    my $who = $people[$n % @people];
    $set //= $out_kinds[($n >> 1) % @out_kinds];
    my (@atts, @blobs);
    for my $a (@$set) {
        my ($what, $name, $ctype, $ftype, $kind) = @$a;
        my $bytes = attachment_bytes($what);
        push @atts, { sha => sha256_hex($bytes), kind => $kind, name => $name };
        push @blobs, ChatwootTest::FakeChatwoot->add_blob($fake, filename => $name, content_type => $ctype,
                                                          file_type => $ftype, data => encode_base64($bytes, ''));
    }
    my $cw;
    for my $try (1 .. 100) {
        # A full queue answers 503 while a helper is down: a sender tries again.
        $cw = eval { $x->agent_reply(conversation => $who->{conv}, content => "out $n", attachments => \@blobs) }
            and last;
        die $@ unless $@ =~ /answered 503/;
        $t->wait_for(sub { eval { $t->status->{helper}{state} eq 'running' } }, 60, 'a running helper');
    }
    push @out, { n => $n, who => $who, cw => $cw, atts => \@atts };
}

my %done;
for my $i (1 .. 2 * $N) {
    my ($fault) = map { $_->[1] } grep { !$done{$_->[0]} && $i >= $_->[0] * 2 * $N } @plan;
    my ($at) = map { $_->[0] } grep { !$done{$_->[0]} && $i >= $_->[0] * 2 * $N } @plan;
    # The kills wait for a step of their own direction.
    undef $fault if $fault && ($fault eq 'kill-download' && $i % 2 == 0 || $fault eq 'kill-upload' && $i % 2);
    if ($fault && $fault =~ /^(download|upload)-(503|reset)$/) {
        arm_media_fail(op => $1, count => $2 eq '503' ? 2 : 1, $2 eq '503' ? (mode => 'status', status => 503)
                                                                             : (mode => 'reset'));
        $done{$at} = 1;
        undef $fault;
    }
    if ($fault && $fault eq 'kill-download') {
        # The next download that passes the checks comes half, then holds.
        my $since = $wa->last_seq;
        $wa->media_serve(mode => 'slow');
        contact_sends($i, size => 240_000);
        my $half = $wa->wait_match('media-download-half', since => $since, timeout => 60);
        $t->wait_for(sub { grep { -s $_ } glob("$t->{state}/media/*.part") }, 30,
                     'the helper writing the held download into a .part');
        kill_helper('while a download was held mid-body');
        $wa->wait_match('media-download-gone', path => $half->{path}, since => $since, timeout => 30);
        $done{$at} = 1;
        next;
    }
    if ($fault && $fault eq 'kill-upload') {
        # The next upload, a 6 MB document's (the replies before it sent
        # first), is read half way and left unanswered.
        $t->wait_outbox_settled(120);
        my $since = $wa->last_seq;
        $wa->media_serve(op => 'upload', mode => 'slow');
        agent_sends($i, [[big => 'big.pdf', 'application/pdf', 'file', 'document']]);
        my $half = $wa->wait_match('media-upload-half', since => $since, timeout => 60);
        ok($half->{length} > 6 << 20 && $half->{received} < $half->{length},
           "the upload is held mid-body ($half->{received} of $half->{length} bytes read)");
        kill_helper("while an upload ($half->{mms_type}, $half->{received} of $half->{length} bytes) was in flight");
        # The mock reads on: the killed helper's body ends short, or (its
        # bytes were all in the socket's buffers) it is whole and kept, as
        # WhatsApp would; the answer is lost either way.
        $wa->media_serve_release;
        my $end = $t->wait_for(sub {
            my ($gone) = @{$wa->events(type => 'media-upload-gone', since => $since)};
            my ($kept) = grep { $_->{length} == $half->{length} } @{$wa->events(type => 'media-upload', since => $since)};
            $gone // $kept;
        }, 30, 'the held upload cut off or kept');
        note $end->{type} eq 'media-upload' ? 'the held upload was whole in the socket: kept, its answer lost'
                                            : "the held upload was cut off after $end->{received} bytes";
        $done{$at} = 1;
        next;
    }
    $i % 2 ? contact_sends($i) : agent_sends($i);
}
settle_media_fail();
is(scalar(keys %done), scalar @plan, 'every fault landed during the round')
    or diag 'not landed: ' . join(', ', map { "$_->[1] at $_->[0]" } grep { !$done{$_->[0]} } @plan);
is(scalar @kills, 2, 'the helper was killed twice mid-transfer');
note sprintf 'the round is written: %d in, %d out, %.0f s', scalar @in, scalar @out, time - $started;

# --- afterwards: wait for the end of the work, then count --------------------------
my $total_in = @in + @people;
$t->wait_for(sub { $t->sql(q{SELECT count(*) FROM wa_inbound WHERE state = 'posted'})->[0][0] >= $total_in },
             300, "all $total_in contact messages posted");
$t->wait_outbox_settled(300);
note sprintf 'the work is over after %.0f s', time - $started;
ChatwootTest::FakeChatwoot->set_faults($fake);   # the counting reads the fake

# Chatwoot's end: each contact message once, its bytes, in order.
$view = $x->view;
my (@lost_in, @doubled_in, @wrong_in);
for my $m (@in) {
    my $got = $view->{by_waid}{$m->{id}} // [];
    push @lost_in, "in $m->{n} ($m->{kind}, $m->{id})" unless @$got;
    push @doubled_in, "in $m->{n} ($m->{kind}, $m->{id}) x" . scalar @$got if @$got > 1;
    my $c = $got->[0] or next;
    my @a = @{$c->{attachments} // []};
    my $why = @a != 1 ? scalar(@a) . ' attachments, content ' . ($c->{content} // '')
            : $a[0]{sha256} ne $m->{sha} ? 'other bytes'
            : index($a[0]{content_type} // '', $m->{type}) != 0 ? "content type $a[0]{content_type}"
            : ($c->{content} // '') ne ($m->{caption} // '') ? "content '" . ($c->{content} // '') . "'"
            : defined $m->{file_name} && ($a[0]{file_name} // '') ne $m->{file_name} ? "file name $a[0]{file_name}"
            : undef;
    push @wrong_in, "in $m->{n} ($m->{kind}): $why" if $why;
}
is(scalar @lost_in, 0, 'no contact media message lost on the way to Chatwoot') or diag "lost: @lost_in";
is(scalar @doubled_in, 0, 'none posted twice') or diag "doubled: @doubled_in";
is(scalar @wrong_in, 0, 'each with one attachment: the bytes sent (SHA-256), its content type, caption and name')
    or diag join "\n", @wrong_in;
my %in_n = map { $_->{id} => $_->{n} } @in;
for my $c (@people) {
    my @ns = grep { defined } map { $in_n{($_->{source_id} // '') =~ s/^WAID://r} }
             @{$view->{conversations}{$c->{conv}}{messages}};
    my @want = map { $_->{n} } grep { $_->{who} == $c } @in;
    is("@ns", "@want", "$c->{key}: Chatwoot has the contact's media in the order sent");
}
my %receipted = map { $_->{id} => 1 } grep { ($_->{receipt_type} // '') eq 'delivery' }
                @{$wa->events(type => 'receipt-in', since => $since_round)};
my @unreceipted = map { "in $_->{n}" } grep { !$receipted{$_->{id}} } @in;
is(scalar @unreceipted, 0, 'every contact media message got its delivery receipt') or diag "@unreceipted";

# WhatsApp's end: each part once, under its committed id.
my $not_sent = $t->sql(q{SELECT chatwoot_message_id, state FROM outbox WHERE state != 'sent'});
is(scalar @$not_sent, 0, 'every outbox entry sent') or diag explain $not_sent;
my %received = map { $_->{id} => $_ } @{$wa->events(type => 'media-received', since => $since_round)};
my (%deliveries, %first_seq);
for my $ev (@{$wa->events(type => 'delivered', since => $since_round)}) {
    next if $ev->{forwarded};
    $deliveries{$ev->{id}}{$ev->{to}}++;
    $first_seq{$ev->{id}} //= $ev->{seq};
}
my (@lost_out, @wrong_out, @ids, %part_of);
for my $m (@out) {
    my $parts = $t->sql(qq{SELECT p.part, p.wa_id, p.state FROM outbox_parts p JOIN outbox o ON o.id = p.outbox_id
                           WHERE o.chatwoot_message_id = $m->{cw} AND o.action = 'send' ORDER BY p.part});
    push @wrong_out, "out $m->{n}: " . scalar(@$parts) . ' parts for ' . scalar(@{$m->{atts}}) . ' attachments'
        unless @$parts == @{$m->{atts}};
    for my $row (@$parts) {
        my ($part, $id, $state) = @$row;
        my $a = $m->{atts}[$part] or next;
        push @ids, $id;
        $part_of{$id} = "out $m->{n} part $part";
        $m->{ids}[$part] = $id;
        my $r = $received{$id};
        unless ($r && $deliveries{$id}) {
            push @lost_out, "out $m->{n} part $part ($a->{kind}, $id, $state)";
            next;
        }
        my $why = !$r->{ok} ? "not checked: $r->{reason}"
                : $r->{kind} ne $a->{kind} ? "sent as $r->{kind}"
                : $a->{kind} eq 'ptt' ? ($r->{mimetype} eq 'audio/ogg; codecs=opus' ? undef : "mimetype $r->{mimetype}")
                : $r->{sha256} ne $a->{sha} ? 'other bytes'
                : undef;
        push @wrong_out, "out $m->{n} part $part ($a->{kind}): $why" if $why;
    }
}
is(scalar @lost_out, 0, 'every agent attachment reached the contact, checked and decrypted') or diag "lost: @lost_out";
is(scalar @wrong_out, 0, 'each as its kind, with the bytes attached (a voice note as OGG/Opus ptt)')
    or diag join "\n", @wrong_out;
my %distinct = map { $_ => 1 } @ids;
is(scalar keys %distinct, scalar @ids, 'one distinct WhatsApp id per part');
my @stray = grep { !$part_of{$_} } sort keys %received;
is(scalar @stray, 0, 'no media message on WhatsApp but the parts: nothing went twice under another id')
    or diag "stray: @stray";
my %sha_ids;
$sha_ids{$received{$_}{sha256} // ''}{$_} = 1 for keys %received;
my @twice = grep { keys %{$sha_ids{$_}} > 1 } sort keys %sha_ids;
is(scalar @twice, 0, 'no attachment\'s bytes arrived under two ids');
my @not_to_one = map { "$part_of{$_}: " . join(', ', sort keys %{$deliveries{$_}}) }
                 grep { keys %{$deliveries{$_} // {}} < 1 } @ids;
is(scalar @not_to_one, 0, 'each part delivered to its contact');
for my $c (@people) {
    my @mine = grep { $_->{who} == $c } @out;
    my @want = map { my $m = $_; map { "$m->{n}.$_" } 0 .. $#{$m->{ids} // []} } @mine;
    my %label = map { my $m = $_; map { ($m->{ids}[$_] // '') => "$m->{n}.$_" } 0 .. $#{$m->{ids} // []} } @mine;
    my @got = map { $label{$_} } sort { $first_seq{$a} <=> $first_seq{$b} } grep { $first_seq{$_} } keys %label;
    is("@got", "@want", "$c->{key}: the parts arrived in the agents' order");
}
# Uploads: a part uploaded again only when a kill caught it between the
# upload and its commit (the held upload never stored anything).
my @uploads = grep { ($_->{from} // '') eq 'companion' } @{$wa->events(type => 'media-upload', since => $since_round)};
my $parts = scalar @ids;
ok(@uploads >= $parts && @uploads <= $parts + @kills,
   sprintf('%d uploads for %d parts: at most one more per kill', scalar @uploads, $parts));
my @failed_ul = @{$wa->events(type => 'media-upload-failed', since => $since_round)};
my @failed_dl = grep { $_->{failed} } @{$wa->events(type => 'media-download', since => $since_round)};
note sprintf '%d uploads and %d downloads failed on purpose; %d media retried by the helper',
    scalar @failed_ul, scalar @failed_dl, scalar @failed_ul + scalar @failed_dl;

# Nothing left behind.
my @left = grep { m{/(?:[^/]*\.part|[^/]*\.enc|prep-[^/]*)$} } glob("$t->{state}/media/*");
is(scalar @left, 0, 'no .part, .enc or prep-* left in <state>/media') or diag "@left";
my @files = glob("$t->{state}/media/*");
is(scalar @files, 0, 'the media store is empty: every file went where it belonged') or diag "@files";

my $s = ChatwootTest::FakeChatwoot->get_state($fake);
my $faulted = grep { $_->{fault} } @{$s->{requests}};
note sprintf 'the fake Chatwoot failed %d of %d requests', $faulted, scalar @{$s->{requests}};
ok($faulted > 0, 'the fake Chatwoot failed some of the bridge\'s requests');
my @refused = grep { !$_->{stale} } @{$wa->events(type => 'refused')};
is(scalar @refused, 0, 'the mock refused nothing the device sent') or diag explain \@refused;
my @media_refused = @{$wa->events(type => 'media-refused')};
is(scalar @media_refused, 0, 'the media host refused no request') or diag explain \@media_refused;

$t->stop;
$t->stop_daemons;
my @bad = grep { !/$KILL_LINE/ } grep { /\[(?:error|crit|alert|emerg)\]/ } split /\n/, $t->read_file('error.log');
is(scalar @bad, 0, 'no error or alert in nginx\'s log but the kills\'') or diag join "\n", @bad;
$t->check_log;
note sprintf 'the media chaos round took %.0f s for %d messages each way', time - $started, $N;
done_testing;
