# The chatwoot_devices location: the device list and one device from the
# helper's snapshot, the QR endpoint's refusals, commands pushed as records
# and answered 202 with an id whose outcome is polled until the helper
# settles it (a pair on a device that cannot pair fails with the device's
# reason), bad bodies, unknown names, wrong methods, a full queue, and
# Cache-Control: no-store on every answer.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use JSON::PP qw(decode_json encode_json);
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 1, token => 'test-api-token',
                                             inbox => { id => 7, name => 'WhatsApp' });
my $synth = "$dir/device";
mkdir $synth;
chmod 0777, $synth;
my $port = free_port();

# "main" has no device of its own ("whatsapp off", which the test module adds: the absent
# device); "synth" is the synthetic device, always connected.
$t->write_config($t->chatwoot_http(
    port => $port, webhook => 'main max_body=16k', zone => 'size=256k queue=4',
    inbox => { url => "http://127.0.0.1:$fake/" },
    http => "    chatwoot_inbox synth { url http://127.0.0.1:$fake/; account 1; inbox 7; "
        . "api_token test-api-token; webhook_secret s; synthetic_device $synth; control_conversation off; }\n",
    server => "        location /chatwoot/devices/ { chatwoot_devices; }\n"
        . "        location /exact { chatwoot_devices; }\n",
))->run;
my $status = $t->wait_helper_running;
my $helper = $status->{helper}{pid};

my @answers;   # every answer's headers, for the no-store check at the end
sub req {
    my ($method, $path, %o) = @_;
    my ($code, $h, $body) = $t->http($port, $method, "/chatwoot/devices/$path", %o);
    push @answers, ["$method $path", $h];
    return ($code, $h, $body);
}
sub get_json {
    my ($path) = @_;
    my ($code, $h, $body) = req('GET', $path);
    return ($code, ($h->{'content-type'} // '') =~ m{^application/json} ? decode_json($body) : undef, $h);
}
sub post_json {
    my ($path, $body) = @_;
    my ($code, $h, $text) = req('POST', $path, defined $body ? (body => $body,
        headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, decode_json($text), $h);
}
# Polls commands/<id> until it is no longer pending.
sub settled {
    my ($id) = @_;
    return $t->wait_for(sub {
        my ($code, $j) = get_json("commands/$id");
        return undef unless $code == 200;
        $j->{state} eq 'pending' ? undef : $j;
    }, 10, "command $id settled");
}

# The list, once the helper has published both devices.
my $list = $t->wait_for(sub {
    my ($code, $j) = get_json('');
    $code == 200 && @{$j->{devices}} == 2 ? $j : undef;
}, 10, 'both devices published');
my %by = map { $_->{name} => $_ } @{$list->{devices}};
is($by{main}{state}, 'unpaired', 'list: main has no device yet: unpaired');
is($by{synth}{state}, 'connected', 'list: the synthetic device is connected');
for my $d (values %by) {
    ok(exists $d->{$_}, "list: $d->{name} has $_")
        for qw(name state pn_jid lid push_name connected_since reconnects error qr_pending);
    ok(!exists $d->{qr} && !exists $d->{pair_code}, "list: $d->{name} shows no QR or code");
    is($d->{qr_pending}, JSON::PP::false, "list: $d->{name} has no QR pending");
}

my ($code, $j, $h, $body) = get_json('main');
is($code, 200, 'one device: 200');
is($j->{name}, 'main', 'one device: its name');
is($j->{state}, 'unpaired', 'one device: its state');

($code, $j) = get_json('nosuch');
is($code, 404, 'an unknown device: 404');
is($j->{error}, 'no such device', 'with a reason');
($code) = get_json('main/unknown');
is($code, 404, 'an unknown endpoint: 404');

# The QR is there only while the device waits for a scan.
($code, $j) = get_json('main/qr');
is($code, 409, 'qr of an unpaired device that is not pairing: 409');
is($j->{error}, 'device is not waiting for a QR scan: it is unpaired', 'it says the state');
($code, $j) = get_json('synth/qr?format=svg');
is($code, 409, 'qr of a connected device: 409');
like($j->{error}, qr/it is connected$/, 'it says connected');
($code, $j) = get_json('main/qr?format=gif');
is($code, 400, 'an unknown QR format: 400');
($code) = get_json('nosuch/qr');
is($code, 404, 'qr of an unknown device: 404');

# A device waiting for a scan: the synthetic device shows one while its
# directory has a "pairing-qr" file (empty: no QR from the server yet).
$t->write_file('device/pairing-qr', '');
$t->wait_for(sub { (get_json('synth'))[1]{state} eq 'pairing_qr' }, 10, 'synth pairing');
my $r;
($code, $j, $h) = get_json('synth/qr');
is($code, 503, 'pairing but no QR yet: 503');
is($h->{'retry-after'}, '1', 'with Retry-After');
is($j->{error}, 'no QR code yet', 'and a reason');

my $qr = '2@Xk3V9yRlq8l6oJ3q0s1hYtH4mI0Cw6h2WcN1u3pQeVZr8T5fG7bK9dA0nL2xS4jE6vU8yR1,'
    . 'Jm8p2u5X1cV9bN3mQ7wE4rT6yU0iO2pA5sD8fG1hJ4k=,kL7zX3cV5bN9mQ1wE6rT8yU2iO4pA7sD0fG3hJ5kL8z=,'
    . 'Qw3eR5tY7uI9oP1aS4dF6gH8jK0lZ2xC5vB7nM9qW1e=';
$t->write_file('device/pairing-qr', "$qr\n");
$t->wait_for(sub { (get_json('synth'))[1]{qr_pending} }, 10, 'synth QR pending');
($code, $h, $body) = req('GET', 'synth/qr?format=text');
is($code, 200, 'qr as text: 200');
like($h->{'content-type'}, qr{^text/plain}, 'qr as text: text/plain');
is($body, $qr, 'qr as text: the QR the device shows');
($code, $h, $body) = req('GET', 'synth/qr');
is($code, 200, 'qr as PNG: 200');
is($h->{'content-type'}, 'image/png', 'qr as PNG: image/png');
is(substr($body, 0, 8), "\x89PNG\r\n\x1a\n", 'qr as PNG: a PNG');
SKIP: {
    skip 'zbarimg (zbar-tools) is not installed', 1 if system('command -v zbarimg >/dev/null 2>&1') != 0;
    my $png = $t->write_file('qr.png', $body);
    my $decoded = `zbarimg --quiet --raw $png 2>/dev/null`;
    $decoded =~ s/\n+\z//;
    is($decoded, $qr, 'qr as PNG: zbarimg reads the QR text back');
}
($code, $h, $body) = req('GET', 'synth/qr?format=svg');
is($code, 200, 'qr as SVG: 200');
is($h->{'content-type'}, 'image/svg+xml', 'qr as SVG: image/svg+xml');
like($body, qr{<svg xmlns="http://www.w3.org/2000/svg"}, 'qr as SVG: an SVG');
($code, $h, $body) = req('GET', '');
unlike($body, qr/\Q$qr\E|Xk3V9yRlq8l6/, 'the list never holds the QR');
unlike($t->read_file('error.log'), qr/Xk3V9yRlq8l6/, 'the QR is never logged');
unlink "$dir/device/pairing-qr";
$t->wait_for(sub { (get_json('synth'))[1]{state} eq 'connected' }, 10, 'synth connected again');

# Methods.
($code, $h) = req('PUT', 'main', body => '{}');
is($code, 405, 'PUT on a device: 405');
is($h->{allow}, 'GET, HEAD', 'Allow: GET, HEAD');
($code, $h) = req('GET', 'main/pair');
is($code, 405, 'GET on pair: 405');
is($h->{allow}, 'POST', 'Allow: POST');
($code, $h) = req('DELETE', '');
is($code, 405, 'DELETE on the list: 405');
($code, $h, $body) = req('HEAD', '');
is($code, 200, 'HEAD on the list: 200');
is($body, '', 'without a body');

# pair: 202 with an id, polled until the helper settles it.
($code, $j, $h) = post_json('main/pair');
is($code, 202, 'pair: 202');
like($j->{id}, qr/^[0-9a-f]{32}$/, 'pair: an id');
my $pair = $j->{id};
my $outcome = settled($pair);
is($outcome->{id}, $pair, 'pair: the outcome of that id');
is($outcome->{kind}, 'pair', 'pair: kind pair');
is($outcome->{state}, 'failed', 'pair on a device without a session fails');
is($outcome->{reason}, 'this device cannot be paired', 'with the device\'s reason');
ok($t->wait_log(qr/\[info\].*chatwoot devices: pair command \Q$pair\E for device "main"/),
   'the worker logs the command');

($code, $j) = post_json('main/logout');
is($code, 202, 'logout: 202');
$outcome = settled($j->{id});
is($outcome->{kind}, 'logout', 'logout: kind logout');
is($outcome->{reason}, 'this device cannot log out', 'logout fails with the device\'s reason');

# pair-code: the phone checked by the worker, the command by the helper.
($code, $j) = post_json('main/pair-code', encode_json({ phone => '+5511999999999' }));
is($code, 202, 'pair-code: 202');
$outcome = settled($j->{id});
is($outcome->{kind}, 'pair_code', 'pair-code: kind pair_code');
is($outcome->{reason}, 'this device cannot be paired', 'pair-code fails like pair');
unlike($t->read_file('error.log'), qr/5511999999999/, 'the phone number is not logged');

for my $case (
    [ 'not JSON', '{"phone":', 'body is not JSON' ],
    [ 'no phone', '{"number":"+5511999999999"}', '"phone" must be a string, e.g. "+5511999999999"' ],
    [ 'phone without +', '{"phone":"5511999999999"}', '"phone" must be "+" and 8 to 15 digits, e.g. "+5511999999999"' ],
    [ 'phone too short', '{"phone":"+1234567"}', '"phone" must be "+" and 8 to 15 digits, e.g. "+5511999999999"' ],
    [ 'empty body', '', 'body is not JSON' ],
) {
    my ($name, $b, $reason) = @$case;
    ($code, $j) = post_json('main/pair-code', $b);
    is($code, 400, "pair-code, $name: 400");
    is($j->{error}, $reason, "pair-code, $name: the reason");
}
($code, $j) = post_json('main/pair-code', encode_json({ phone => '+5511999999999', pad => 'x' x 5000 }));
is($code, 413, 'pair-code with a body over 4 KiB: 413');
($code, $j) = post_json('nosuch/pair');
is($code, 404, 'pair of an unknown device: 404');

# Command ids.
($code, $j) = get_json('commands/' . ('0' x 32));
is($code, 404, 'an unknown command id: 404');
($code) = get_json('commands/nope');
is($code, 404, 'a malformed command id: 404');

# A location without a trailing slash serves the same, after its "/".
{
    my ($c, undef, $b) = $t->http($port, 'GET', '/exact/main');
    is($c, 200, 'prefix without a slash: /exact/main');
    is(decode_json($b)->{name}, 'main', 'is the device');
    ($c) = $t->http($port, 'GET', '/exactmain');
    is($c, 404, 'prefix without a slash: /exactmain is nothing');
}

# A full queue: 503 with Retry-After while the helper is frozen.
kill 'STOP', $helper;
my @codes;
for (1 .. 6) {
    my ($c, $hh) = req('POST', 'main/pair');
    push @codes, $c;
    if ($c == 503) {
        is($hh->{'retry-after'}, '1', 'a full queue: Retry-After');
        last;
    }
}
kill 'CONT', $helper;
is($codes[-1], 503, 'a full queue answers 503 (after ' . (@codes - 1) . ' accepted)');
ok(@codes > 1 && !grep({ $_ != 202 } @codes[0 .. $#codes - 1]), 'what fitted was accepted');

# Every answer is not to be cached.
my @cached = grep { ($_->[1]{'cache-control'} // '') ne 'no-store' } @answers;
ok(!@cached, 'every answer has Cache-Control: no-store (' . scalar(@answers) . ' answers)')
    or diag join ', ', map { $_->[0] } @cached;

$t->finish;
done_testing;
