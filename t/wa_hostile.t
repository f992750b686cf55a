# A hostile WhatsApp server never crashes the helper (issue 9): bad
# certificate chains (Noise and TLS), garbage frames, oversize frames, a
# frame split at every byte, stanzas that do not decode.  Through real nginx
# and the loopback server (t/mock/wa/server.mjs) with its control API; each
# hostile input goes to a device of its own, so that one device's backoff
# does not slow the next case down.  For each input: the helper survives
# (same pid, the status and devices locations answer), the device's state
# and a log line say what happened, and it reconnects when it should (or
# keeps its connection when it should).  No QR and no key reaches the log.
#
# ./build.sh test runs this again under ASan+UBSan (NGINX_BINARY is then a
# wrapper that preloads the sanitizer runtime, ASAN_OPTIONS a log_path): a
# sanitizer report of any nginx process, the helper's leaks at its exit
# included, fails the test.
#
# The mock's control calls are a few lines here; ChatwootTest::WaMock
# (another branch) will hold them for every test.
use strict;
use warnings;

use Carp qw(croak);
use FindBin;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;

use lib "$FindBin::Bin/lib";
use ChatwootTest qw(free_port);

my $MOCK = "$FindBin::Bin/mock/wa/server.mjs";
plan skip_all => 'the mock WhatsApp server needs node and its npm packages (./build.sh test installs them)'
    unless -d "$FindBin::Bin/mock/wa/node_modules/baileys" && system('node --version >/dev/null 2>&1') == 0;

my $t = ChatwootTest->new(workers => 1);

###########################################################################
# The mock WhatsApp server and its control API

my $mport = free_port();
my $ready = $t->dir . '/mock.ready';
$t->run_daemon(sub {
    open STDOUT, '>', $ready or die $!;
    open STDERR, '>', $t->dir . '/mock.log' or die $!;
    exec 'node', $MOCK, '--port', $mport or die "node: $!";
});
my $mock = $t->wait_for(sub {
    $t->read_file('mock.ready') =~ /^ready (\{.*\})$/m ? decode_json($1) : undef;
}, 20, 'the mock WhatsApp server ready');

sub query {
    my (%q) = @_;
    return join '&', map { "$_=$q{$_}" } sort keys %q;
}

sub mock_call {
    my ($method, $name, $body) = @_;
    my ($code, undef, $text) = $t->http($mport, $method, "/control/$name",
        defined $body ? (body => encode_json($body), headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, $text eq '' ? undef : decode_json($text));
}

sub mock_post {
    my ($name, $body) = @_;
    my ($code, $j) = mock_call('POST', $name, $body);
    croak "mock POST $name: $code " . encode_json($j // {}) unless $code == 200;
    return $j;
}

sub mock_last {
    my (undef, $j) = mock_call('GET', 'events');
    return @{$j->{events}} ? $j->{events}[-1]{seq} : 0;
}

# The first mock event after `since` matching the filter (type, conn, tag).
sub mock_wait {
    my (%f) = @_;
    my ($code, $j) = mock_call('GET', 'wait?' . query(timeout => 20000, %f));
    croak 'no mock event ' . query(%f) . ": $code " . encode_json($j // {}) unless $code == 200;
    return $j;
}

# The first node the client sent on `conn` after `since` for which $pred holds.
sub mock_wait_node {
    my ($conn, $since, $pred, $what) = @_;
    for (1 .. 200) {
        my $ev = eval { mock_wait(type => 'received', conn => $conn, since => $since) }
            or croak "the client never sent $what";
        return $ev if $pred->($ev->{node});
        $since = $ev->{seq};
    }
    croak "the client never sent $what";
}

# The live connection of the device paired with `phone`.
sub conn_of {
    my ($phone) = @_;
    my (undef, $j) = mock_call('GET', 'connections');
    my @c = grep {
        $_->{state} eq 'open' && ($_->{client}{kind} // '') eq 'login' && $_->{client}{username} eq $phone
    } @{$j->{connections}};
    return @c ? $c[-1]{conn} : undef;
}

###########################################################################
# nginx: one inbox per hostile case, each its own WhatsApp device

# A TLS server whose certificate no CA vouches for, for the wss:// device.
my $tls_port = free_port();
my ($cert, $key) = map { $t->dir . "/tls-$_.pem" } qw(cert key);
my $out = qx{openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout $key -out $cert 2>&1};
die "openssl req failed: $out" if $?;
$t->run_daemon(sub {
    require IO::Socket::SSL;
    my $srv = IO::Socket::SSL->new(LocalAddr => '127.0.0.1', LocalPort => $tls_port, Listen => 16,
                                   ReuseAddr => 1, SSL_cert_file => $cert, SSL_key_file => $key)
        or die 'TLS server: ' . IO::Socket::SSL::errstr();
    while (1) {
        my $c = $srv->accept or next;   # the client refuses the chain: accept fails
        close $c;
    }
});
$t->wait_port($tls_port);

my %phone = (split => '15550000001', garbage => '15550000002', oversize => '15550000003',
             cert => '15550000004', hello1 => '15550000005', hello2 => '15550000006');
my @paired = qw(split garbage oversize cert hello1 hello2);
my $port = free_port();
my $server = "ws://127.0.0.1:$mport/ws/chat root_key=$mock->{root_key}";
my $inboxes = '';
my $n = 7;
for my $name (@paired, 'tls') {
    my $where = $name eq 'tls' ? "wss://127.0.0.1:$tls_port/ws/chat root_key=$mock->{root_key}" : $server;
    $inboxes .= "    chatwoot_inbox $name { url http://127.0.0.1:9/; account 1; inbox " . $n++ . "; "
        . "api_token t; webhook_secret s; whatsapp_server $where; control_conversation off; }\n";
}
$t->write_config(<<"EOF")->run;
    chatwoot_state_path ${\ $t->dir}/state;
$inboxes
    server {
        listen 127.0.0.1:$port;
        location = /chatwoot/status { chatwoot_status; }
        location /chatwoot/devices/ { chatwoot_devices; }
    }
EOF
$t->set_status_port($port);
my $helper = $t->wait_helper_running(15)->{helper}{pid};

sub device {
    my ($name) = @_;
    my ($code, undef, $body) = $t->http($port, 'GET', "/chatwoot/devices/$name");
    croak "devices/$name answered $code" unless $code == 200;
    return decode_json($body);
}

sub wait_device {
    my ($name, $check, $what) = @_;
    return $t->wait_for(sub { my $d = device($name); $check->($d) ? $d : undef }, 30, "$name: $what");
}

my @qr;   # every QR text shown: none may reach the log
sub pair {
    my ($name) = @_;
    my $qr = $t->wait_for(sub {
        my ($code, undef, $body) = $t->http($port, 'GET', "/chatwoot/devices/$name/qr?format=text");
        $code == 200 ? $body : undef;
    }, 20, "a QR for $name");
    push @qr, $qr;
    mock_post('scan', { qr => $qr, phone => $phone{$name} });
    wait_device($name, sub { $_[0]{state} eq 'connected' }, 'connected after the scan');
    return conn_of($phone{$name}) // croak "no live connection of $name";
}

my %conn = map { $_ => pair($_) } @paired;
pass(@paired . ' devices paired by QR through the mock');

# The helper is the same process and both locations answer.
sub helper_alive {
    my ($what) = @_;
    my $s = $t->status;
    is($s->{helper}{pid}, $helper, "$what: the same helper process");
    is($s->{helper}{state}, 'running', "$what: the helper runs");
}

# The server answers its own ping on `conn` (the session still reads).
my $probe = 0;
sub answers_ping {
    my ($conn, %send) = @_;
    my $id = 'probe-' . ++$probe;
    my $since = mock_last();
    mock_post('send', { conn => $conn, %send,
        node => { tag => 'iq', attrs => { from => 's.whatsapp.net', type => 'get', xmlns => 'urn:xmpp:ping', id => $id } } });
    my $ev = mock_wait_node($conn, $since, sub { $_[0]{tag} eq 'iq' && ($_[0]{attrs}{id} // '') eq $id },
                            "the answer to $id");
    return ($ev->{node}{attrs}{type} // '') eq 'result';
}

###########################################################################
# A frame split at every byte (WebSocket messages and TCP writes)

{
    my $conn = $conn{split};
    ok(answers_ping($conn, split => 1, tcp => 1),
       'split: a stanza a byte per WebSocket message and per TCP write is read and answered');
    ok(answers_ping($conn, split => 1, tcp => 1, compress => 1),
       'split: the same, zlib-flagged');
    # Several frames in one byte stream, cut at every byte.
    my $since = mock_last();
    my @ids = map { "many-$_" } 1 .. 3;
    mock_post('send', { conn => $conn, split => 1, tcp => 1, nodes => [
        map { { tag => 'iq', attrs => { from => 's.whatsapp.net', type => 'get', xmlns => 'urn:xmpp:ping', id => $_ } } } @ids ] });
    for my $id (@ids) {
        ok(mock_wait_node($conn, $since, sub { ($_[0]{attrs}{id} // '') eq $id }, "the answer to $id"),
           "split: three frames in one byte stream: $id answered");
    }
    # A bigger stanza, a byte per WebSocket message: an IQ nobody serves
    # still gets its error answer (501) with its id.
    $since = mock_last();
    mock_post('send', { conn => $conn, split => 1, node => { tag => 'iq',
        attrs => { from => 's.whatsapp.net', type => 'set', xmlns => 'w:hostile', id => 'big-1' },
        content => [{ tag => 'blob', attrs => {}, content => { hex => 'ab' x 4000 } }] } });
    my $ev = mock_wait_node($conn, $since, sub { ($_[0]{attrs}{id} // '') eq 'big-1' }, 'the answer to big-1');
    is($ev->{node}{attrs}{type}, 'error', 'split: a 4 KB stanza a byte per message is read and answered');
    is(conn_of($phone{split}), $conn, 'split: the same connection throughout');
    is(device('split')->{state}, 'connected', 'split: still connected');
    helper_alive('split');
}

###########################################################################
# Stanzas that authenticate but do not decode: each is reported and
# skipped, the connection stays (the next stanza is read)

{
    my $conn = $conn{split};
    my $re = qr/inbox "split": WhatsApp sent what we cannot read: /;
    my @bad = (
        ['an empty plaintext',             { hex => '' }],
        ['a truncated list header',        { hex => '00f8' }],
        ['a list claiming 65535 items',    { hex => '00f9ffff' }],
        ['unknown flags',                  { hex => '7ff80110' }],
        ['flag 2 with bytes that are not zlib', { hex => '02deadbeef' }],
        ['deflated bytes that are not a node', { hex => '00deadbeef', compress => JSON::PP::true }],
        ['a zlib bomb (17 MiB of zeros)',  { size => 17 << 20, fill => 0, compress => JSON::PP::true }],
    );
    my $reconnects = device('split')->{reconnects};
    for my $case (@bad) {
        my ($what, $raw) = @$case;
        my $seen = $t->log_count($re);
        mock_post('raw', { conn => $conn, layer => 'stanza', %$raw });
        ok(eval { $t->wait_log($re, $seen + 1, 20) }, "bad stanza, $what: a log line says so");
        ok(answers_ping($conn), "bad stanza, $what: the next stanza is read");
    }
    # Nesting deeper than any real stanza (the decoder's limit is 64).
    my $deep = { tag => 'leaf', attrs => {} };
    $deep = { tag => 'n', attrs => {}, content => [$deep] } for 1 .. 100;
    my $seen = $t->log_count($re);
    mock_post('send', { conn => $conn, node => $deep });
    ok(eval { $t->wait_log($re, $seen + 1, 20) }, 'bad stanza, nested 100 deep: a log line says so');
    ok(answers_ping($conn), 'bad stanza, nested 100 deep: the next stanza is read');
    is(conn_of($phone{split}), $conn, 'bad stanzas: the same connection throughout');
    my $d = device('split');
    is($d->{state}, 'connected', 'bad stanzas: still connected');
    is($d->{reconnects}, $reconnects, 'bad stanzas: no reconnect');
    helper_alive('bad stanzas');
}

###########################################################################
# Input that ends the connection: it is logged, and the device connects
# again (a new login of the same device: no pairing)

# Sends the hostile bytes to `name`'s connection; checks that the client
# dropped it, said why, and logged in again.
sub ends_and_reconnects {
    my ($name, $what, $raw, $why) = @_;
    my $conn = $conn{$name};
    my $before = device($name);
    my $re = qr/inbox "$name": WhatsApp connection lost \([^\n]*$why[^\n]*\); reconnecting in \d+ ms/;
    my $seen = $t->log_count($re);
    my $since = mock_last();
    mock_post('raw', { conn => $conn, %$raw });
    ok(eval { mock_wait(type => 'closed', conn => $conn, since => $since) }, "$name, $what: the client closed the connection")
        or diag $@;
    ok(eval { $t->wait_log($re, $seen + 1, 20) }, "$name, $what: logged as a lost connection ($why)")
        or diag $t->new_log;
    my $d = eval { wait_device($name, sub { $_[0]{state} eq 'connected' && ($_[0]{reconnects} > $before->{reconnects}) },
                               'connected again') };
    ok($d, "$name, $what: connected again");
    is($d && $d->{reconnects}, $before->{reconnects} + 1, "$name, $what: one reconnect counted");
    my $new = conn_of($phone{$name});
    ok($new && $new != $conn, "$name, $what: a new connection of the same device");
    $conn{$name} = $new;
    helper_alive("$name, $what");
}

ends_and_reconnects('garbage', 'a frame that does not authenticate',
    { layer => 'frame', hex => join('', map { sprintf '%02x', int rand 256 } 1 .. 64) }, 'transport');
ends_and_reconnects('garbage', 'a WebSocket frame with a reserved opcode',
    { layer => 'socket', hex => '8f00' }, 'protocol_error');
ends_and_reconnects('garbage', 'a masked WebSocket frame from the server',
    { layer => 'socket', hex => '828111223344' . '55' }, 'protocol_error');
ends_and_reconnects('garbage', 'a frame of length 0',
    { layer => 'stream', hex => '000000' }, 'transport');

# Oversize: a WebSocket frame announcing 1 TiB (refused with 1009 at its
# first payload bytes, nothing buffered: wslay checks the announced length
# once payload comes, so a bare header stalls the connection until the
# keepalive gives up on it, 20-40 s, too slow for this test), the largest
# Noise frame (16 MiB, buffered whole, then it fails authentication), a
# control frame over 125 bytes.
ends_and_reconnects('oversize', 'a WebSocket frame announcing 1 TiB',
    { layer => 'socket', hex => '827f0000010000000000' . ('00' x 16) }, 'we close with 1009');
ends_and_reconnects('oversize', 'a 16 MiB Noise frame',
    { layer => 'frame', size => (1 << 24) - 1, fill => 0x5a }, 'transport');
ends_and_reconnects('oversize', 'a ping frame of 200 bytes',
    { layer => 'socket', hex => '897e00c8' . ('00' x 200) }, 'protocol_error');

###########################################################################
# Bad certificate chains: the Noise chain (the mock's cert variants) and a
# TLS chain no CA vouches for.  The device keeps trying, says why, and
# connects once the server shows a good chain.

my %chain_error = ('garbage' => qr/not a valid encoding/, 'wrong-root' => qr/not signed by the root/);
for my $variant (sort keys %chain_error) {
    my $before = device('cert');
    my $since = mock_last();
    mock_post('cert', { variant => $variant });
    mock_post('drop', { conn => $conn{cert} });
    my $d = eval { wait_device('cert', sub { ($_[0]{error} // '') =~ /server hello/ }, "the $variant chain refused") };
    ok($d, "cert $variant: the device says the server hello was refused");
    is($d && $d->{state}, 'connecting', "cert $variant: and keeps connecting");
    like($t->read_file('error.log'),
         qr/inbox "cert": WhatsApp connection lost \(protocol error: server hello: certificate chain: [^\n]*$chain_error{$variant}/,
         "cert $variant: logged, naming what is wrong with the chain");
    ok(!grep({ $_->{type} eq 'handshake' } @{(mock_call('GET', "events?since=$since&type=handshake"))[1]{events}}),
       "cert $variant: no ClientFinish went to a server with a bad chain");
    mock_post('cert', { variant => 'valid' });
    ok(eval { wait_device('cert', sub { $_[0]{state} eq 'connected' }, 'connected with a good chain') },
       "cert $variant: connected again once the chain is good");
    $conn{cert} = conn_of($phone{cert});
    helper_alive("cert $variant");
}

# Hostile answers to the ClientHello (the mock's hello variants): the
# handshake parser sees them before anything is authenticated.  One device
# goes through several in a row (each retry meets the next), then a valid
# server again.
my %hello_error = (
    'garbage'         => qr/server hello: /,
    'empty'           => qr/server hello: [^\n]*ephemeral is 0 bytes/,
    'short-ephemeral' => qr/server hello: [^\n]*ephemeral is 5 bytes/,
    'undecryptable'   => qr/server hello: [^\n]*server static key/,
    'huge'            => qr/server hello: [^\n]*not a valid encoding \(16777215 bytes\)/,
);
sub hostile_hellos {
    my ($name, @variants) = @_;
    my $since = mock_last();
    mock_post('hello', { variant => $variants[0] });
    mock_post('drop', { conn => $conn{$name} });
    for my $variant (@variants) {
        mock_post('hello', { variant => $variant });
        my $re = qr/inbox "$name": WhatsApp connection lost \(protocol error: $hello_error{$variant}/;
        my $seen = $t->log_count($re);
        my $ev;
        for (1 .. 20) {   # a retry may still meet the variant before
            $ev = eval { mock_wait(type => 'hostile-hello', since => $since) } or last;
            $since = $ev->{seq};
            last if $ev->{variant} eq $variant;
        }
        is($ev && $ev->{variant}, $variant, "hello $variant: the mock answered the ClientHello of $name with it");
        ok(eval { $t->wait_log($re, $seen + 1, 30) }, "hello $variant: refused, and logged as such")
            or diag $t->new_log;
        ok(!grep({ $_->{type} eq 'handshake' } @{(mock_call('GET', "events?since=$since&type=handshake"))[1]{events}}),
           "hello $variant: no ClientFinish followed");
        helper_alive("hello $variant");
    }
    mock_post('hello', { variant => 'valid' });
    ok(eval { wait_device($name, sub { $_[0]{state} eq 'connected' }, 'connected with a good server') },
       "hello: $name connected again once the server answers properly");
    $conn{$name} = conn_of($phone{$name});
}
hostile_hellos('hello1', qw(garbage empty short-ephemeral));
hostile_hellos('hello2', qw(undecryptable huge));

{
    my $d = eval { wait_device('tls', sub { ($_[0]{error} // '') =~ /certificate/i }, 'the TLS chain refused') };
    ok($d, 'tls: the device says the certificate was refused') or diag explain device('tls');
    like($d && $d->{error}, qr/connect_failed/, 'tls: as a failed connection');
    is($d && $d->{state}, 'pairing_qr', 'tls: an unpaired device, still trying to show a QR');
    like($t->read_file('error.log'), qr/inbox "tls": WhatsApp connection lost \([^\n]*certificate/i, 'tls: logged');
    helper_alive('tls');
}

###########################################################################
# The others never noticed: each device is still connected on its own

for my $name (@paired) {
    is(device($name)->{state}, 'connected', "$name: connected at the end");
}
ok(answers_ping($conn{garbage}), 'garbage: the new connection reads stanzas');
ok(answers_ping($conn{oversize}), 'oversize: the new connection reads stanzas');

###########################################################################
# No QR and no key in the log

{
    my $log = $t->read_file('error.log');
    my @secrets = @qr;
    for my $row (@{$t->sql('SELECT identity_private, noise_private FROM wa_devices')}) {
        for my $k (grep { defined && length } @$row) {
            push @secrets, unpack('H*', $k), uc unpack('H*', $k), encode_base64($k, '');
        }
    }
    ok(@secrets > @qr, 'the devices have private keys to look for');
    my @found = grep { index($log, $_) >= 0 } @secrets;
    ok(!@found, 'no QR text and no private key in error.log');
    my @refs = map { (split /,/)[0] } @qr;
    ok(!grep({ index($log, $_) >= 0 } @refs), 'no QR ref in error.log');
}

$t->finish;

# Under the sanitizers: every nginx process wrote its report, if any, to
# log_path.<pid>; the helper's leak check runs at its exit (nginx's QUIT
# above), so by now each file that exists is a finding.
for my $var (qw(ASAN_OPTIONS UBSAN_OPTIONS)) {
    my ($prefix) = ($ENV{$var} // '') =~ /(?:^|:)log_path=([^:]+)/ or next;
    my @reports = grep { -s } glob "$prefix.*";
    ok(!@reports, "no $var report (log_path=$prefix)")
        or diag join "\n", map { "== $_\n" . do { local (@ARGV, $/) = $_; <> } } @reports;
}

done_testing;
