# The operator's login page (GET <prefix><name>/login) and the pair-code
# answers, through real nginx with the synthetic device standing in for
# WhatsApp (its pairing-qr, pairing-code and account files):
# - the page's HTML and headers (a Content-Security-Policy whose hashes are
#   those of the page's own script and style, no-store, nosniff, no
#   framing), 404 for an unknown device, 405 with Allow for other methods;
# - GET <name>/pair-code: 409 while not pairing by code, 202 with a null
#   code while the server has not given one, 200 with the code; POST
#   pair-code answers {"id","code"} and reaches the device;
# - in real headless Chromium: the QR on the page, read back from a
#   screenshot by zbarimg, equals the API's QR text, follows a rotation
#   without a reload, the page shows "Linked as +..." once the device is
#   linked, and its phone-number form gets a code shown - with no CSP
#   violation along the way.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Chromium;
use ChatwootTest::FakeChatwoot;
use Digest::SHA qw(sha256_base64);
use JSON::PP qw(decode_json encode_json);
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 1, token => 'test-api-token',
                                             inbox => { id => 7, name => 'WhatsApp' });
my $synth = "$dir/device";
mkdir $synth;
chmod 0777, $synth;   # the helper (nobody) writes pair-request there
my $port = free_port();

$t->write_config($t->chatwoot_http(
    port => $port, webhook => 'main max_body=16k', zone => 'size=256k queue=8',
    inbox => { url => "http://127.0.0.1:$fake/" },
    http => "    chatwoot_inbox synth { url http://127.0.0.1:$fake/; account 1; inbox 7; "
        . "api_token test-api-token; webhook_secret s; synthetic_device $synth; control_conversation off; }\n",
    server => "        location /chatwoot/devices/ { chatwoot_devices; }\n"
        . "        location /exact { chatwoot_devices; }\n",
))->run;
$t->wait_helper_running;

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
    my ($code, $h, $text) = req('POST', $path, body => $body,
                                headers => { 'Content-Type' => 'application/json' });
    return ($code, decode_json($text), $h);
}
sub device { (get_json('synth'))[1] // {} }
sub settled {
    my ($id) = @_;
    return $t->wait_for(sub {
        my ($code, $j) = get_json("commands/$id");
        $code == 200 && $j->{state} ne 'pending' ? $j : undef;
    }, 10, "command $id settled");
}
# Waits for the synthetic device's pair-request file and takes it.
sub pair_request {
    my $file = "$synth/pair-request";
    $t->wait_for(sub { -e $file }, 10, 'the pair request at the device');
    my $got = $t->read_file('device/pair-request');
    unlink $file;
    return $got;
}
$t->wait_for(sub { (get_json('synth'))[0] == 200 }, 10, 'synth published');

###########################################################################
# The page over HTTP.

my ($code, $h, $html) = req('GET', 'synth/login');
is($code, 200, 'login: 200');
is($h->{'content-type'}, 'text/html; charset=utf-8', 'login: HTML in UTF-8');
like($html, qr/\A<!doctype html>/, 'login: an HTML document');
{
    open my $fh, '<:raw', 'src/ipc/login_page.html' or die "src/ipc/login_page.html: $!";
    local $/;
    is($html, scalar <$fh>, 'login: byte for byte src/ipc/login_page.html, as embedded');
}
is($h->{'content-length'}, length($html), 'login: the whole page');
my @scripts = $html =~ m{<script>(.*?)</script>}sg;
my @styles = $html =~ m{<style>(.*?)</style>}sg;
is(scalar @scripts, 1, 'login: one script');
is(scalar @styles, 1, 'login: one style');
my $hash = sub { "'sha256-" . sha256_base64($_[0]) . "='" };
is($h->{'content-security-policy'},
   "default-src 'none'; script-src " . $hash->($scripts[0]) . "; style-src " . $hash->($styles[0])
   . "; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
   . "frame-ancestors 'none'",
   'login: a strict CSP allowing its own script and style by hash');
is($h->{'x-content-type-options'}, 'nosniff', 'login: nosniff');
is($h->{'x-frame-options'}, 'DENY', 'login: never framed');
is($h->{'referrer-policy'}, 'no-referrer', 'login: no referrer');
unlike($html, qr{(?:src|href|action)\s*=\s*"?(?:https?:)?//}i, 'login: nothing from elsewhere');
unlike($html, qr/synth/, 'login: static; the device comes from the URL');

($code, $h, my $body) = req('HEAD', 'synth/login');
is($code, 200, 'login, HEAD: 200');
is($body, '', 'login, HEAD: no body');
ok($h->{'content-security-policy'}, 'login, HEAD: the same headers');

($code, my $j) = get_json('nosuch/login');
is($code, 404, 'login of an unknown device: 404');
is($j->{error}, 'no such device', 'with a reason');
($code, $h) = req('POST', 'synth/login', body => '{}');
is($code, 405, 'POST on login: 405');
is($h->{allow}, 'GET, HEAD', 'login: Allow: GET, HEAD');
($code, $h) = req('DELETE', 'synth/login');
is($code, 405, 'DELETE on login: 405');
($code) = req('GET', 'synth/login/');
is($code, 404, 'login/ is nothing');
{
    my ($c, undef, $b) = $t->http($port, 'GET', '/exact/synth/login');
    is($c, 200, 'a prefix without a trailing slash: the page too');
    is($b, $html, 'the same page');
}

###########################################################################
# pair-code answers.

($code, $h) = req('PUT', 'synth/pair-code', body => '{}');
is($code, 405, 'PUT on pair-code: 405');
is($h->{allow}, 'GET, HEAD, POST', 'pair-code: Allow: GET, HEAD, POST');

($code, $j) = get_json('synth/pair-code');
is($code, 409, 'pair-code of a linked device: 409');
is_deeply($j, { error => 'device is not pairing by code: it is connected', code => undef,
                state => 'connected' }, 'it says the state');
($code, $j) = get_json('main/pair-code');
is($code, 409, 'pair-code of a device without a session: 409');
is($j->{state}, 'unpaired', 'it is unpaired');
($code) = get_json('nosuch/pair-code');
is($code, 404, 'pair-code of an unknown device: 404');

($code, $j) = post_json('synth/pair-code', encode_json({ phone => '+5511999999999' }));
is($code, 202, 'POST pair-code: 202');
like($j->{id}, qr/^[0-9a-f]{32}$/, 'POST pair-code: an id');
ok(exists $j->{code} && !defined $j->{code}, 'POST pair-code: code null (the helper has none yet)');
is(pair_request(), '5511999999999', 'the device got the request with the digits');
is(settled($j->{id})->{state}, 'done', 'the command is done');

$t->write_file('device/pairing-code', '');
$t->wait_for(sub { device()->{state} eq 'pairing_code' }, 10, 'synth pairing by code');
($code, $j) = get_json('synth/pair-code');
is($code, 202, 'pairing by code, no code yet: 202');
is_deeply($j, { code => undef, state => 'pairing_code' }, 'code null, state pairing_code');

$t->write_file('device/pairing-code', "ABCD-EFGH\n");
$j = $t->wait_for(sub {
    my ($c, $jj) = get_json('synth/pair-code');
    $c == 200 ? $jj : undef;
}, 10, 'the code published');
is_deeply($j, { code => 'ABCD-EFGH', state => 'pairing_code' }, 'GET pair-code: the code');
($code, $j) = post_json('synth/pair-code', encode_json({ phone => '+5511999999999' }));
is($code, 202, 'POST pair-code again: 202');
is($j->{code}, 'ABCD-EFGH', 'with the code the device shows now');
pair_request();
settled($j->{id});
($code, $h, $body) = req('GET', 'synth');
unlike($body, qr/ABCD-EFGH/, 'the device JSON never holds the code');
($code, $h, $body) = req('GET', '');
unlike($body, qr/ABCD-EFGH/, 'nor the list');
unlink "$synth/pairing-code";
$t->wait_for(sub { device()->{state} eq 'connected' }, 10, 'synth connected again');

###########################################################################
# The page in a real browser.

SKIP: {
    skip 'chromium is not installed (build.sh installs it)', 1
        unless ChatwootTest::Chromium::available();

    my $qr1 = '2@Xk3V9yRlq8l6oJ3q0s1hYtH4mI0Cw6h2WcN1u3pQeVZr8T5fG7bK9dA0nL2xS4jE6vU8yR1,'
        . 'Jm8p2u5X1cV9bN3mQ7wE4rT6yU0iO2pA5sD8fG1hJ4k=,kL7zX3cV5bN9mQ1wE6rT8yU2iO4pA7sD0fG3hJ5kL8z=,'
        . 'Qw3eR5tY7uI9oP1aS4dF6gH8jK0lZ2xC5vB7nM9qW1e=';
    (my $qr2 = $qr1) =~ s/^2\@Xk3V9/2\@Rot8Z/;

    # The QR the page shows, read from a screenshot of the page.
    my $n = 0;
    my $decode = sub {
        my ($page) = @_;
        my $png = $t->write_file('page-' . ++$n . '.png', $page->screenshot);
        my $text = `zbarimg --quiet --raw $png 2>/dev/null`;
        $text =~ s/\n+\z//;
        return $text;
    };
    my $qr_text = sub { (req('GET', 'synth/qr?format=text'))[2] };

    $t->write_file('device/pairing-qr', "$qr1\n");
    $t->wait_for(sub { device()->{qr_pending} }, 10, 'synth QR pending');

    my $browser = ChatwootTest::Chromium->start($t);
    my $page = $browser->open("http://127.0.0.1:$port/chatwoot/devices/synth/login");
    $page->js('window.__sameDocument = true');
    my $qr_loaded = q{!document.getElementById('qr-box').hidden
        && document.getElementById('qr').complete
        && document.getElementById('qr').naturalWidth > 0
        && document.getElementById('qr').getAttribute('src')};
    my $src1 = $page->wait_until($qr_loaded);
    ok($page->js(q{document.getElementById('pair-qr').hidden}),
       'page: no "Show a QR code" while one is shown');
    like($page->text, qr/Scan this QR code with WhatsApp/, 'page: it asks for a scan');
    like($page->text, qr/Link WhatsApp: synth/, 'page: the device, from its URL');
    is($decode->($page), $qr_text->(), 'page: the screenshot\'s QR is the API\'s QR text');
    is($qr_text->(), $qr1, 'which is the device\'s');

    # The ref rotates: the page follows without a reload.
    my $serial = device()->{qr_serial};
    $t->write_file('device/pairing-qr', "$qr2\n");
    $t->wait_for(sub { device()->{qr_serial} != $serial }, 10, 'a new qr_serial');
    my $src2 = $page->wait_until("($qr_loaded) !== " . encode_json($src1) . " && ($qr_loaded)");
    isnt($src2, $src1, 'page: a new image after the rotation');
    is($decode->($page), $qr2, 'page: the screenshot\'s QR is the rotated one');
    ok($page->js('window.__sameDocument === true'), 'page: no reload');

    # Linked: the page says as whom, still without a reload.
    $t->write_file('device/account', "5511999999999:12\@s.whatsapp.net\nLoja Centro\n");
    unlink "$synth/pairing-qr";
    $page->wait_until(q{document.body.innerText.includes('Linked as +5511999999999')});
    like($page->text, qr/Linked as \+5511999999999 \(Loja Centro\)/, 'page: linked as the number');
    ok($page->js(q{document.getElementById('qr-box').hidden}), 'page: the QR is gone');
    ok($page->js(q{document.getElementById('actions').hidden}), 'page: nothing to link');
    ok($page->js('window.__sameDocument === true'), 'page: still no reload');

    # Pairing by phone number from the page's form.
    unlink "$synth/account";
    $t->write_file('device/pairing-qr', '');
    $page->wait_until(q{!document.getElementById('actions').hidden});
    like($page->text, qr/Waiting for a QR code/, 'page: waiting for a QR');
    $page->js(q{
        document.getElementById('phone').value = '+55 11 98888-7777';
        document.getElementById('pair-phone').requestSubmit();
    });
    is(pair_request(), '5511988887777', 'page: the form asked for a code for that number');
    $t->write_file('device/pairing-code', "WXYZ-1234\n");
    $page->wait_until(q{document.getElementById('code').textContent === 'WXYZ-1234'
        && !document.getElementById('code-box').hidden});
    like($page->text, qr/Type the code below on your phone/, 'page: it asks to type the code');
    like($page->text, qr/WXYZ-1234/, 'page: the code shown');
    ok($page->js(q{!document.getElementById('pair-qr').hidden}), 'page: a QR can be asked for');
    $page->js(q{document.getElementById('pair-qr').click()});
    is(pair_request(), '', 'page: "Show a QR code" asked the device for a QR');
    $page->wait_until(q{document.getElementById('message').textContent === ''});
    ok($page->js('window.__sameDocument === true'), 'page: no reload all along');

    is_deeply([$page->csp_violations], [], 'page: no Content-Security-Policy violation');

    # A device that cannot pair: the page says why the request failed.
    my $main = $browser->open("http://127.0.0.1:$port/chatwoot/devices/main/login");
    $main->wait_until(q{document.getElementById('state').dataset.state === 'unpaired'});
    like($main->text, qr/Not linked to a WhatsApp account yet/, 'page of main: not linked');
    $main->js(q{
        document.getElementById('phone').value = '+5511999999999';
        document.getElementById('pair-phone').requestSubmit();
    });
    $main->wait_until(q{document.getElementById('message').className === 'problem'});
    like($main->text, qr/Asking WhatsApp for a code failed: this device cannot be paired/,
         'page of main: the command\'s reason');
    $main->js(q{document.getElementById('phone').value = '12'});
    $main->js(q{document.getElementById('pair-phone').requestSubmit()});
    $main->wait_until(q{document.getElementById('message').textContent.includes('refused')});
    like($main->text, qr/Asking WhatsApp for a code refused: "phone" must be "\+" and 8 to 15 digits/,
         'page of main: the worker\'s 400 reason');
    is_deeply([$main->csp_violations], [], 'page of main: no CSP violation');
    $browser->stop;
    unlink "$synth/pairing-code", "$synth/pairing-qr";
}

unlike($t->read_file('error.log'), qr/Xk3V9yRlq8l6|Rot8Z|ABCD-EFGH|WXYZ-1234|98888/,
       'no QR, code or phone number in the log');

my @cached = grep { ($_->[1]{'cache-control'} // '') ne 'no-store' } @answers;
ok(!@cached, 'every answer has Cache-Control: no-store (' . scalar(@answers) . ' answers)')
    or diag join ', ', map { $_->[0] } @cached;

$t->finish;
done_testing;
