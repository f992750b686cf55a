#!/usr/bin/perl
# Benchmark, not a test: WhatsApp media through nginx's helper (issue 11),
# between the loopback WhatsApp server (t/mock/wa/server.mjs: its contact
# encrypts and keeps the blob, its TLS listener is the media host) and the
# fake Chatwoot (t/lib/ChatwootTest/FakeChatwoot.pm).  Figures are ratios
# against baselines measured in the same run, never a pass or fail.
#
# Download (WhatsApp -> Chatwoot), one message at a time: BENCH_MEDIA_COUNT
# videos of 8 MB, then one of 64 MB (random bytes), each from a contact:
#   e2e       the mock's send of the stanza (its event message-sent) -> the
#             fake Chatwoot's receipt of the whole multipart POST (its
#             request log's time): receipt, media_conn (cached after the
#             first), the TLS download, hash + MAC + CBC as it streams into
#             <state>/media, fsync and rename, then curl's POST of the file
#   intake    the fake's own share: the same file POSTed to the same fake by
#             a Perl client (Mojo::UserAgent), start -> the fake's receipt
#   helper    e2e - intake: what the helper's download, checks, decryption
#             and hand-over take; MB/s = plaintext MB / that
#   node      the baseline: t/bench/media-download.mjs, Node's crypto doing
#             the same GET from the same host with hash + MAC + decryption
#             as the bytes stream into a file, checked and fsynced (median
#             of BENCH_NODE_REPEAT runs per blob)
#   CPU       CPU ms per MB: the helper's (/proc/<pid>/stat over the e2e,
#             the POST included) and Node's (process.cpuUsage)
#   RSS       the helper's VmRSS before the send (idle) and its peak during
#             it: VmHWM after clear_refs 5 (when this user may write it),
#             and VmRSS sampled every 2 ms; target: flat, < 16 MB above idle
#             whatever the size
# Every message is checked before its figures count: once in Chatwoot, one
# attachment, the plaintext's SHA-256.
#
# Upload (Chatwoot -> WhatsApp), one reply at a time: an agent attaches
# BENCH_MEDIA_COUNT documents of BENCH_MEDIA_MB MB, then one of
# BENCH_MEDIA_BIG_MB MB (random bytes as application/pdf: a document needs
# no ffmpeg work, so the figure is the bridge's own fetch + encrypt +
# upload):
#   upload    the webhook's POST to nginx -> the mock's media-upload event
#             (the whole body received and hashed): the record through the
#             ring, the outbox, the fetch from the fake Chatwoot (redirect,
#             then the file streamed into <state>/media), the encryption
#             and the upload over TLS to the loopback media host
#   received  the webhook -> the mock's media-received event: the message
#             sent, acked, and its blob checked and decrypted by the
#             contact's device (the mock's own crypto, in memory)
#   fetch     the fake's own share: the same attachment fetched from the
#             fake by a Perl client (Mojo::UserAgent, the redirect
#             followed), start -> the last byte
#   helper    upload - fetch; MB/s = plaintext MB / that
#   node      the baseline: t/bench/media-upload.mjs, Node's crypto doing the
#             same encrypt (AES-256-CBC + HMAC + both SHA-256s, streamed into
#             a temporary file) and the same POST to the same host with an
#             auth from the mock (median of BENCH_NODE_REPEAT runs)
#   CPU, RSS  as for the download, over the webhook -> media-upload (CPU)
#             and the webhook -> media-received (RSS)
# Every reply is checked before its figures count: one media-received,
# checked, a document, the attachment's SHA-256.
#
# BENCH_MEDIA_COUNT (5), BENCH_MEDIA_MB (8), BENCH_MEDIA_BIG_MB (64),
# BENCH_NODE_REPEAT (3), BENCH_MEDIA_ONLY (download or upload: one half
# only); BENCH_DEBUG=1 prints each run's figures on stderr.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest;
use ChatwootTest::Exchange;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use Digest::SHA ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64 encode_base64);
use Mojo::UserAgent;
use POSIX ();
use Time::HiRes qw(sleep time);

my $COUNT = $ENV{BENCH_MEDIA_COUNT} // 5;
my $MB = $ENV{BENCH_MEDIA_MB} // 8;
my $BIG_MB = $ENV{BENCH_MEDIA_BIG_MB} // 64;
my $NODE_REPEAT = $ENV{BENCH_NODE_REPEAT} // 3;
/^[1-9]\d*$/ or die "BENCH_* values are positive whole numbers\n" for $COUNT, $MB, $BIG_MB, $NODE_REPEAT;
my $ONLY = $ENV{BENCH_MEDIA_ONLY} // '';
$ONLY =~ /^(?:|download|upload)$/ or die "BENCH_MEDIA_ONLY: download or upload\n";
my $ROOT = "$FindBin::Bin/../..";
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $JSON = JSON::PP->new->canonical->utf8;
my $ua = Mojo::UserAgent->new(inactivity_timeout => 600, request_timeout => 600, max_response_size => 0);

sub cpu_seconds {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or die "no process $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / $TCK;
}

# A /proc/<pid>/status field in kB.
sub status_kb {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or die "no process $pid: $!";
    while (<$fh>) { return $1 if /^\Q$field\E:\s+(\d+)\s+kB/ }
    die "no $field for $pid\n";
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# VmRSS of $pid every 2 ms in a child until stop_sampler: its peak (kB).
sub start_sampler {
    my ($pid) = @_;
    pipe my $r, my $w or die "pipe: $!";
    my $child = fork // die "fork: $!";
    if ($child == 0) {
        close $r;
        my $max = 0;
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        until ($stop) {
            my $kb = eval { status_kb($pid, 'VmRSS') } // last;
            $max = $kb if $kb > $max;
            sleep 0.002;
        }
        print {$w} "$max\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return [$child, $r];
}
sub stop_sampler {
    my ($s) = @_;
    kill 'TERM', $s->[0];
    my $fh = $s->[1];
    my $max = <$fh>;
    waitpid $s->[0], 0;
    chomp $max;
    return $max || 0;
}

###########################################################################
# Set-up: nginx with one live device paired with the mock's phone; media
# over TLS from the mock's listener (verified with the test CA).

my $t = ChatwootTest->new;
my $dir = $t->dir;
$t->tls_test_certs('ca');
my $wa = ChatwootTest::WaMock->start($t, args => ['--tls-cert', "$dir/server.pem", '--tls-key',
                                                   "$dir/server.key", '--media-host', 'localhost']);
my $max_mb = $BIG_MB + 16;
# whatsapp_media_max caps both ways (downloads, and agents' attachments):
# the big file and then some.
my ($port) = $t->start_wa(wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem")
                                     . "\n        whatsapp_media_max ${max_mb}m;");
my $fake = $t->{wa_setup}{fake};
my $fake_pid = $t->{daemons}[-1];   # start_wa forked the fake after the mock
$fake_pid != $wa->pid or die 'cannot tell the fake from the mock';
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn}, timeout => 30);
my $media_host = $wa->ready->{media_hosts}[0] // die "the mock names no media host\n";
my $helper = $t->status->{helper}{pid};
my $contact = '4915200000001';
$wa->wa_contact($contact, name => 'Bench');

sub fake_state { ChatwootTest::FakeChatwoot->get_state($fake) }

# The fake's message with this WhatsApp id, and its conversation.
sub in_fake {
    my ($state, $id) = @_;
    for my $c (@{$state->{conversations}}) {
        for my $m (@{$c->{messages}}) {
            return ($m, $c) if ($m->{source_id} // '') eq "WAID:$id";
        }
    }
    return;
}

# The fake's log entry of the first POST with attachments after request $seq.
sub attachment_post_after {
    my ($state, $seq) = @_;
    for my $r (@{$state->{requests}}) {
        next unless $r->{seq} > $seq && $r->{method} eq 'POST' && $r->{path} =~ m{/messages$};
        next unless grep { /^attachments/ } keys %{$r->{params} // {}};
        return $r;
    }
    return;
}

sub random_file {
    my ($path, $mb) = @_;
    open my $in, '<:raw', '/dev/urandom' or die "urandom: $!";
    open my $out, '>:raw', $path or die "$path: $!";
    my $sha = Digest::SHA->new(256);
    for (1 .. $mb * 16) {
        read($in, my $buf, 65536) == 65536 or die "urandom: short read\n";
        print {$out} $buf;
        $sha->add($buf);
    }
    close $out or die "$path: $!";
    return $sha->hexdigest;
}

my $n = 0;
# One video of $mb MB through the helper, then the baselines on its blob.
sub one {
    my ($mb) = @_;
    my $bytes = $mb * 1024 * 1024;
    my $file = "$dir/bench-" . (++$n) . '.mp4';
    my $sha = random_file($file, $mb);
    my $last_request = (fake_state()->{requests}[-1] // { seq => 0 })->{seq};

    # The helper's run.
    my $idle_kb = status_kb($helper, 'VmRSS');
    # The peak since now, where this user may reset it (else the samples).
    my $hwm_reset = 0;
    if (open my $cr, '>', "/proc/$helper/clear_refs") {
        $hwm_reset = (print {$cr} "5\n") && close($cr) ? 1 : 0;
    }
    my $sampler = start_sampler($helper);
    my $cpu0 = cpu_seconds($helper);
    my $since = $wa->last_seq;
    my $sent = $wa->wa_media_message(from => $contact, kind => 'video', file => $file, mimetype => 'video/mp4');
    my $sent_ev = $wa->wait_match('message-sent', id => $sent->{id}, since => $since, timeout => 120);
    my ($m, $conv);
    my $t0 = time;
    until (($m, $conv) = in_fake(fake_state(), $sent->{id})) {
        die "message $sent->{id} not in Chatwoot after 600 s\n" if time - $t0 > 600;
        die "the helper failed a message\n" if $t->status->{bridge}{whatsapp_failed};
        sleep 0.05;
    }
    my $cpu = cpu_seconds($helper) - $cpu0;
    my $sampled_kb = stop_sampler($sampler);
    my $hwm_kb = $hwm_reset ? status_kb($helper, 'VmHWM') : 0;
    my $state = fake_state();
    my @att = @{$m->{attachments} // []};
    die "message $sent->{id}: " . scalar(@att) . " attachments\n" unless @att == 1;
    die "message $sent->{id}: the attachment's SHA-256 is not the file's\n" unless $att[0]{sha256} eq $sha;
    my $post = attachment_post_after($state, $last_request) // die "no attachment POST seen at the fake\n";
    my $e2e_ms = 1000 * $post->{time} - $sent_ev->{at};

    # The fake's own intake of the same file.
    my $before = $state->{requests}[-1]{seq};
    my $c0 = time;
    my $res = $ua->post("http://127.0.0.1:$fake/api/v1/accounts/1/conversations/$conv->{display_id}/messages"
                        => { api_access_token => 'test-api-token' }
                        => form => { content => 'intake baseline', message_type => 'incoming',
                                     'attachments[]' => { file => $file, filename => 'baseline.mp4',
                                                          'Content-Type' => 'video/mp4' } })->result;
    die 'intake baseline: ' . $res->code . ' ' . $res->body . "\n" unless $res->is_success;
    my $intake = attachment_post_after(fake_state(), $before) // die "intake baseline not seen at the fake\n";
    my $intake_ms = 1000 * ($intake->{time} - $c0);

    # Node on the same blob from the same host.
    my $md = $sent->{media};
    (my $hash = $md->{file_enc_sha256}) =~ tr{+/}{-_};
    $hash =~ s/=+$//;
    my $spec = { url => "https://$media_host$md->{direct_path}&hash=$hash&mms-type=video&__wa-mms=",
                 ca => "$dir/ca.pem", media_key => $md->{media_key}, keys => 'Video',
                 file_enc_sha256 => $md->{file_enc_sha256}, file_sha256 => $md->{file_sha256},
                 length => $bytes, out => "$dir/node-out.bin", repeat => $NODE_REPEAT };
    my $out = qx{node "$ROOT/t/bench/media-download.mjs" '${\ $JSON->encode($spec)}'};
    die "the Node baseline failed\n" if $?;
    my $node = $JSON->decode($out);
    unlink $file;
    printf STDERR "%d MB: e2e %.0f ms, intake %.0f ms, node %s ms; RSS idle %d kB, sampled peak %d kB, VmHWM %d kB\n",
        $mb, $e2e_ms, $intake_ms, join('/', map { sprintf '%.0f', $_->{ms} } @{$node->{runs}}), $idle_kb,
        $sampled_kb, $hwm_kb if $ENV{BENCH_DEBUG};

    return { mb => $mb, e2e_ms => $e2e_ms, intake_ms => $intake_ms, helper_ms => $e2e_ms - $intake_ms,
             helper_cpu_ms => 1000 * $cpu, node_ms => median(map { $_->{ms} } @{$node->{runs}}),
             node_cpu_ms => median(map { $_->{cpu_ms} } @{$node->{runs}}),
             idle_kb => $idle_kb, peak_kb => ($hwm_kb > $sampled_kb ? $hwm_kb : $sampled_kb),
             hwm => $hwm_reset ? 1 : 0 };
}

my (@small, $big);
unless ($ONLY eq 'upload') {
    # A first small one: media_conn asked, the contact's conversation made.
    one(1);
    @small = map { one($MB) } 1 .. $COUNT;
    $big = one($BIG_MB);
}

###########################################################################
# The upload half: an agent's attachment through the webhook, timed to the
# mock's events, next to Node encrypting and POSTing the same bytes.

my $x = ChatwootTest::Exchange->new($t, fake => $fake, port => $port);

# An agent attaches one document of $mb MB in conversation $conv.
sub up {
    my ($mb, $conv) = @_;
    my $bytes = $mb * 1024 * 1024;
    my $file = "$dir/up-" . (++$n) . '.pdf';
    my $sha = random_file($file, $mb);
    my $blob = do {
        open my $fh, '<:raw', $file or die "$file: $!";
        local $/;
        ChatwootTest::FakeChatwoot->add_blob($fake, filename => "bench-$n.pdf", content_type => 'application/pdf',
                                             file_type => 'file', data => encode_base64(scalar <$fh>, ''));
    };

    # The helper's run.
    my $idle_kb = status_kb($helper, 'VmRSS');
    my $hwm_reset = 0;
    if (open my $cr, '>', "/proc/$helper/clear_refs") {
        $hwm_reset = (print {$cr} "5\n") && close($cr) ? 1 : 0;
    }
    my $sampler = start_sampler($helper);
    my $cpu0 = cpu_seconds($helper);
    my $since = $wa->last_seq;
    my $t0 = time;
    $x->agent_reply(conversation => $conv, content => "bench $n", attachments => [$blob]);
    my $upload = $wa->wait_match('media-upload', from => 'companion', since => $since, timeout => 600);
    my $cpu = cpu_seconds($helper) - $cpu0;
    my $received = $wa->wait_match('media-received', since => $since, timeout => 600);
    my $sampled_kb = stop_sampler($sampler);
    my $hwm_kb = $hwm_reset ? status_kb($helper, 'VmHWM') : 0;
    die "upload $n: the contact's check failed: " . ($received->{reason} // '') . "\n" unless $received->{ok};
    die "upload $n: sent as $received->{kind}\n" unless $received->{kind} eq 'document';
    die "upload $n: the SHA-256 is not the attachment's\n" unless $received->{sha256} eq $sha;
    my $uploads = @{$wa->events(type => 'media-upload', since => $since)};
    die "upload $n: $uploads uploads\n" unless $uploads == 1;
    my $upload_ms = $upload->{at} - 1000 * $t0;
    my $received_ms = $received->{at} - 1000 * $t0;

    # The fake's own share: the same fetch by a Perl client.
    my $f0 = time;
    my $res = $ua->max_redirects(5)->get($blob->{data_url})->result;
    die "fetch baseline: " . $res->code . "\n" unless $res->is_success;
    $res->content->asset->move_to("$dir/fetched.bin");
    my $fetch_ms = 1000 * (time - $f0);
    die "fetch baseline: other bytes\n" unless Digest::SHA->new(256)->addfile("$dir/fetched.bin")->hexdigest eq $sha;
    unlink "$dir/fetched.bin";

    # Node on the same file, to the same host.
    my $auth = $wa->media_conn(auth => 1)->{auth} // die "the mock gave no upload auth\n";
    my $spec = { file => $file, host => $media_host, ca => "$dir/ca.pem", auth => $auth, mms => 'document',
                 keys => 'Document', out => "$dir/node-up.enc", repeat => $NODE_REPEAT };
    my $out = qx{node "$ROOT/t/bench/media-upload.mjs" '${\ $JSON->encode($spec)}'};
    die "the Node upload baseline failed\n" if $?;
    my $node = $JSON->decode($out);
    unlink $file;
    printf STDERR "up %d MB: upload %.0f ms, received %.0f ms, fetch %.0f ms, node %s ms; RSS idle %d kB, sampled peak %d kB, VmHWM %d kB\n",
        $mb, $upload_ms, $received_ms, $fetch_ms, join('/', map { sprintf '%.0f', $_->{ms} } @{$node->{runs}}),
        $idle_kb, $sampled_kb, $hwm_kb if $ENV{BENCH_DEBUG};

    return { mb => $mb, e2e_ms => $upload_ms, received_ms => $received_ms, intake_ms => $fetch_ms,
             helper_ms => $upload_ms - $fetch_ms, helper_cpu_ms => 1000 * $cpu,
             node_ms => median(map { $_->{ms} } @{$node->{runs}}),
             node_cpu_ms => median(map { $_->{cpu_ms} } @{$node->{runs}}),
             idle_kb => $idle_kb, peak_kb => ($hwm_kb > $sampled_kb ? $hwm_kb : $sampled_kb),
             hwm => $hwm_reset ? 1 : 0 };
}

my (@up_small, $up_big);
unless ($ONLY eq 'download') {
    # The contact's conversation, for the agents to answer in.
    my $hello = $wa->wa_message(from => $contact, message => { conversation => 'bench uploads' })->{id};
    my $t0 = time;
    my $conv;
    until ((undef, $conv) = in_fake(fake_state(), $hello)) {
        die "the contact's message not in Chatwoot after 60 s\n" if time - $t0 > 60;
        sleep 0.05;
    }
    # A first small one: media_conn asked (the download half may not have).
    up(1, $conv->{display_id});
    @up_small = map { up($MB, $conv->{display_id}) } 1 .. $COUNT;
    $up_big = up($BIG_MB, $conv->{display_id});
}

$wa->stop;
$t->stop;
$t->stop_daemons;

###########################################################################

sub row {
    my ($name, $runs, $received) = @_;
    my %m = map { my $k = $_; ($k => median(map { $_->{$k} // 0 } @$runs)) }
        qw(e2e_ms intake_ms helper_ms helper_cpu_ms node_ms node_cpu_ms idle_kb received_ms);
    my $mb = $runs->[0]{mb};
    my $peak = (sort { $b <=> $a } map { $_->{peak_kb} - $_->{idle_kb} } @$runs)[0];
    my $helper_rate = $m{helper_ms} > 0 ? $mb / ($m{helper_ms} / 1000) : 0;
    my $node_rate = $mb / ($m{node_ms} / 1000);
    printf "%-10s %4d %8.0f %8.0f %8.0f %8.1f %8.0f %8.1f %6.2f %8.1f %8.1f %8.1f %9.1f%s\n",
        $name, scalar @$runs, @m{qw(e2e_ms intake_ms helper_ms)}, $helper_rate, $m{node_ms}, $node_rate,
        $node_rate > 0 ? $helper_rate / $node_rate : 0, $m{helper_cpu_ms} / $mb, $m{node_cpu_ms} / $mb,
        $m{idle_kb} / 1024, $peak / 1024, $received ? sprintf(' %9.0f', $m{received_ms}) : '';
}

unless ($ONLY eq 'upload') {
printf "WhatsApp -> Chatwoot media, one message at a time (random bytes as video/mp4, TLS from the loopback media host);\n"
    . "2 cores shared by nginx's helper, the mock (Node), the fake Chatwoot (Perl) and the Node baseline\n\n";
printf "%-10s %4s %8s %8s %8s %8s %8s %8s %6s %8s %8s %8s %9s\n", 'download', 'runs', 'e2e', 'intake', 'helper',
    'helper', 'node', 'node', 'ratio', 'helper', 'node', 'RSS', 'RSS peak';
printf "%-10s %4s %8s %8s %8s %8s %8s %8s %6s %8s %8s %8s %9s\n", '', '', 'ms', 'ms', 'ms', 'MB/s', 'ms', 'MB/s', '',
    'CPU/MB', 'CPU/MB', 'idle MB', '+MB';
row("$MB MB", \@small);
row("$BIG_MB MB", [$big]);
print "\n";
print "e2e: the mock's send -> the fake's receipt of the multipart POST; intake: the same file POSTed to the fake by\n"
    . "  a Perl client (the fake's own share); helper = e2e - intake (download over TLS, SHA-256 + HMAC + AES-CBC as it\n"
    . "  streams, fsync, rename, curl's POST); node: Node's crypto doing the same GET, checks and decryption into a\n"
    . "  file (fsynced), median of $NODE_REPEAT; ratio: helper MB/s / node MB/s; CPU in ms per MB; RSS peak: above idle,\n"
    . "  the largest of the runs (" . ($big->{hwm} ? 'VmHWM reset by clear_refs, and' : 'no clear_refs:') . " VmRSS sampled every 2 ms)\n";
printf "target: RSS flat, < 16 MB above idle whatever the size: %.1f MB (%d MB) vs %.1f MB (%d MB)\n\n",
    ($big->{peak_kb} - $big->{idle_kb}) / 1024, $BIG_MB,
    (sort { $b <=> $a } map { $_->{peak_kb} - $_->{idle_kb} } @small)[0] / 1024, $MB;
}
unless ($ONLY eq 'download') {
printf "Chatwoot -> WhatsApp media, one reply at a time (random bytes as an application/pdf document: no ffmpeg work;\n"
    . "fetched from the fake Chatwoot, uploaded over TLS to the loopback media host)\n\n";
printf "%-10s %4s %8s %8s %8s %8s %8s %8s %6s %8s %8s %8s %9s %9s\n", 'upload', 'runs', 'upload', 'fetch', 'helper',
    'helper', 'node', 'node', 'ratio', 'helper', 'node', 'RSS', 'RSS peak', 'received';
printf "%-10s %4s %8s %8s %8s %8s %8s %8s %6s %8s %8s %8s %9s %9s\n", '', '', 'ms', 'ms', 'ms', 'MB/s', 'ms', 'MB/s', '',
    'CPU/MB', 'CPU/MB', 'idle MB', '+MB', 'ms';
row("$MB MB", \@up_small, 1);
row("$BIG_MB MB", [$up_big], 1);
print "\n";
print "upload: the webhook's POST to nginx -> the mock's media-upload event (the whole body received and hashed);\n"
    . "  fetch: the same attachment fetched from the fake by a Perl client (the fake's own share); helper = upload -\n"
    . "  fetch (the record, the outbox, the fetch into <state>/media, AES-CBC + HMAC + SHA-256, the TLS upload);\n"
    . "  node: Node's crypto encrypting the same file into a temporary file and POSTing it to the same host, median\n"
    . "  of $NODE_REPEAT; ratio: helper MB/s / node MB/s; CPU in ms per MB (the helper's from the webhook to the\n"
    . "  upload); received: the webhook -> the contact's device checked and decrypted it (media-received); RSS peak:\n"
    . "  above idle from the webhook to media-received, the largest of the runs ("
    . ($up_big->{hwm} ? 'VmHWM reset by clear_refs, and' : 'no clear_refs:') . " VmRSS sampled every 2 ms)\n";
printf "target: RSS flat, < 16 MB above idle whatever the size: %.1f MB (%d MB) vs %.1f MB (%d MB)\n",
    ($up_big->{peak_kb} - $up_big->{idle_kb}) / 1024, $BIG_MB,
    (sort { $b <=> $a } map { $_->{peak_kb} - $_->{idle_kb} } @up_small)[0] / 1024, $MB;
}
