# `./build.sh run` (tools/run.pl, which build.sh execs once the module is
# built), issue 13:
#   - the local demo, started on free ports, read from its stdout line by
#     line: the demo phone links the device, "hello" shows in the fake
#     Chatwoot, the printed curl answers as an agent and the answer reaches
#     the contact's phone; SIGINT then stops it with exit 0 and leaves no
#     process it started (by pid) and no port open;
#   - environment mode with bad values: exit 2 before anything starts, one
#     line per bad variable, a token's value never printed; the same through
#     ./build.sh run;
#   - environment mode with good values against a fake Chatwoot and the
#     loopback WhatsApp server: nginx -t passes on the rendered conf, the
#     token is in a 0600 file and not in the conf, the login page and the
#     webhook URL printed work, the QR shows, the URL token stays the same
#     across runs, a webhook secret given replaces it, and nginx dying on
#     its own ends the launcher (exit 1, a line, nothing left behind).
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use ChatwootTest::WaMock;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time);

my $ROOT = abs_path('.');
my $LAUNCHER = "$ROOT/tools/run.pl";
my $MODULE = abs_path($ENV{CHATWOOT_MODULE});
my $t = ChatwootTest->new;
my @CHATWOOT_VARS = qw(CHATWOOT_URL CHATWOOT_BASE_URL CHATWOOT_API_TOKEN CHATWOOT_API_ACCESS_TOKEN
                       CHATWOOT_ACCOUNT_ID CHATWOOT_INBOX_ID CHATWOOT_DEVICE_ID CHATWOOT_WEBHOOK_SECRET
                       PUBLIC_URL LISTEN WHATSAPP_SERVER RUN_DIR PORT);

# The launcher as a child: stdout is read line by line (its events),
# stderr goes to a file.  %env replaces the variables it reads.
sub launch {
    my (%o) = @_;
    my $err = $t->dir . '/launcher-' . ++$t->{launches} . '.err';
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        delete $ENV{$_} for @CHATWOOT_VARS, grep { /^CHATWOOT_/ && $_ ne 'CHATWOOT_MODULE' } keys %ENV;
        $ENV{$_} = $o{env}{$_} for keys %{$o{env} // {}};
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $w or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        chdir $ROOT;
        exec(@{$o{command} // ['perl', $LAUNCHER, '--module', $MODULE]}) or POSIX::_exit(127);
    }
    close $w;
    return {pid => $pid, out => $r, buf => '', lines => [], err => $err};
}

# The next line matching $re (each line read is kept): its captures, or
# the whole line; fails the test after $timeout s or at end of output.
sub wait_line {
    my ($l, $re, $timeout, $what) = @_;
    my $deadline = time + $timeout;
    my $sel = IO::Select->new($l->{out});
    while (1) {
        while ($l->{buf} =~ s/^(.*)\n//) {
            my $line = $1;
            push @{$l->{lines}}, $line;
            if (my @m = $line =~ $re) {
                pass("launcher: $what");
                # Its captures, if it has groups; else the line.
                return $#+ ? @m : ($line);
            }
        }
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left) || !sysread($l->{out}, $l->{buf}, 65536, length $l->{buf})) {
            fail("launcher: $what");
            diag "stdout so far:\n" . join("\n", @{$l->{lines}}) . "\nstderr:\n" . slurp($l->{err});
            return;
        }
    }
}

# Waits for the launcher to exit: its exit code (undef after $timeout).
sub wait_exit {
    my ($l, $timeout) = @_;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $r = waitpid($l->{pid}, WNOHANG);
        if ($r == $l->{pid}) {
            my $status = $?;
            # The rest of its output (without waiting on a process it left
            # behind holding the pipe: that is checked elsewhere).
            my $sel = IO::Select->new($l->{out});
            while ($sel->can_read(1) && sysread($l->{out}, $l->{buf}, 65536, length $l->{buf})) {}
            push @{$l->{lines}}, split /\n/, $l->{buf};
            $l->{buf} = '';
            return WIFEXITED($status) ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
        }
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', $l->{pid};
    waitpid $l->{pid}, 0;
    return undef;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return scalar <$fh>;
}

# Every process under $root now (children, theirs, ...).
sub descendants {
    my ($root) = @_;
    my %kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $line = slurp($stat) or next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/s or next;
        push @{$kids{$ppid}}, $pid;
    }
    my @all;
    my @todo = ($root);
    while (defined(my $p = shift @todo)) {
        for my $k (@{$kids{$p} // []}) {
            push @all, $k;
            push @todo, $k;
        }
    }
    return @all;
}

# Running: there and not a zombie (an orphan's zombie stays when PID 1 does
# not reap, as in some containers; it holds nothing).
sub alive {
    my ($pid) = @_;
    my $stat = slurp("/proc/$pid/stat") or return 0;
    my ($state) = $stat =~ /^\d+ \(.*\) (\S)/s;
    return ($state // 'Z') ne 'Z';
}

sub port_open { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$_[0]", Timeout => 1) ? 1 : 0 }

# What SIGINT must leave: exit 0, none of $pids alive, none of $ports open.
sub interrupt_and_check {
    my ($l, $pids, $ports, $what) = @_;
    kill 'INT', $l->{pid};
    my $code = wait_exit($l, 40);
    is($code, 0, "$what: SIGINT stops the launcher with exit 0");
    like($l->{lines}[-1] // '', qr/stopped by SIGINT/, "$what: and it says so");
    my @alive = grep { alive($_) } @$pids;
    is_deeply(\@alive, [], "$what: none of the " . scalar(@$pids) . ' processes it started is left')
        or diag `ps -o pid,ppid,pgid,args -p @{[join ',', @alive]}`;
    is_deeply([grep { port_open($_) } @$ports], [], "$what: ports @$ports closed");
    my @bad = grep { /\[(?:alert|crit|emerg)\]|Sanitizer|runtime error:/ } split /\n/, slurp($l->{err});
    ok(!@bad, "$what: no alert, crit or emerg from nginx") or diag join "\n", @bad;
}

###########################################################################
note 'the local demo';

{
    my $port = free_port();
    my $run = $t->dir . '/run';
    my $l = launch(env => {PORT => $port, RUN_DIR => $run});
    wait_line($l, qr/^LOCAL DEMO: no real WhatsApp and no real Chatwoot/, 30, 'labels the demo');
    my ($fake) = wait_line($l, qr{^\[demo\] fake Chatwoot: +http://127\.0\.0\.1:(\d+)/}, 30, 'starts the fake Chatwoot');
    my ($mock) = wait_line($l, qr{^\[demo\] WhatsApp mock: .*control: http://127\.0\.0\.1:(\d+)/control/}, 30,
                           'starts the WhatsApp mock');
    wait_line($l, qr{^\[demo\] login page: +http://127\.0\.0\.1:$port/chatwoot/devices/whatsapp/login$}, 30,
              'prints the login page');
    wait_line($l, qr/^\[demo\] linked: the device is connected as \+4915100000099$/, 60,
              'the demo phone links the device');
    my ($conv) = wait_line($l, qr/^\[demo\] Chatwoot: "hello" arrived in conversation (\d+)/, 60,
                           '"hello" shows in the fake Chatwoot');
    wait_line($l, qr/^ +#\d+ incoming +Maria: hello$/, 5, 'the conversation is printed');
    my $st = ChatwootTest::FakeChatwoot->get_state($fake);
    my ($cv) = grep { $_->{display_id} == ($conv // -1) } @{$st->{conversations}};
    is_deeply([map { [$_->{message_type}, $_->{content}] } @{$cv->{messages} // []}], [[0, 'hello']],
              'the fake Chatwoot holds "hello" as incoming in that conversation');

    my ($curl) = wait_line($l, qr/^(curl .*api_access_token.*)$/, 5, 'prints the curl an agent runs');
    wait_line($l, qr/^\[demo\] watching; Ctrl-C stops everything\.$/, 5, 'watches');
    my $out = `$curl 2>&1`;
    is($?, 0, 'the printed curl runs') or diag $out;
    like($out, qr/"message_type":1/, 'and the fake Chatwoot made the outgoing message');
    wait_line($l, qr/^\[demo\] WhatsApp: Maria's phone received: .*Hi Maria, how can I help\?$/, 60,
              "the answer reaches the contact's phone");
    # The fake records nginx's answer when it reads it.
    my @hooks;
    $t->wait_for(sub {
        @hooks = grep { ($_->{event} // '') eq 'message_created' && $_->{body} =~ /"message_type":"outgoing"/ }
            @{ChatwootTest::FakeChatwoot->get_state($fake)->{webhooks}};
        @hooks && !grep { !defined $_->{status} } @hooks;
    }, 10, "nginx's answer to the fake's webhook");
    is_deeply([map { $_->{status} } @hooks], [202], 'the fake posted the webhook, which nginx took (202)');
    my $conf = slurp("$run/demo/nginx.conf");
    like($conf, qr/^\s*api_token_file chatwoot-api-token;$/m, 'the demo conf names the token file');
    my ($token) = $curl =~ /api_access_token: (\S+?)'/;
    ok($token && index($conf, $token) < 0, 'and holds no token');
    like($conf, qr/^\s*whatsapp_server ws:\/\/127\.0\.0\.1:$mock\/ws\/chat root_key=[0-9a-f]{64};$/m,
         'and points the device at the mock');

    my @pids = descendants($l->{pid});
    cmp_ok(scalar @pids, '>=', 5, 'it runs nginx (master, workers, helper), the mock and the fake')
        or diag `ps -o pid,ppid,args --ppid $l->{pid}`;
    interrupt_and_check($l, \@pids, [$port, $fake, $mock], 'demo');
}

###########################################################################
note 'environment mode: bad values';

{
    my $run = $t->dir . '/bad';
    my %bad = (CHATWOOT_URL => 'ftp://chatwoot.example.com', CHATWOOT_API_TOKEN => 'tok secretvalue42',
               CHATWOOT_ACCOUNT_ID => 'one', CHATWOOT_INBOX_ID => '-7', CHATWOOT_DEVICE_ID => 'my inbox',
               PORT => '70000', LISTEN => '10.0.0', PUBLIC_URL => 'bridge.example.com', RUN_DIR => $run);
    my $l = launch(env => \%bad);
    my $code = wait_exit($l, 30);
    is($code, 2, 'bad values: exit 2');
    my @err = split /\n/, slurp($l->{err});
    for my $var (qw(CHATWOOT_URL CHATWOOT_API_TOKEN CHATWOOT_ACCOUNT_ID CHATWOOT_INBOX_ID CHATWOOT_DEVICE_ID PORT
                    LISTEN PUBLIC_URL)) {
        is(scalar(grep { /^\Q$var\E: / } @err), 1, "bad values: one line for $var");
    }
    like(join("\n", @err), qr/^CHATWOOT_API_TOKEN: has spaces.*not shown/m, 'the token line says what is wrong');
    ok(!grep({ /secretvalue42/ } @err, @{$l->{lines}}), "the token's value is never printed");
    is(scalar(@{$l->{lines}}), 0, 'nothing on stdout');
    ok(!-e "$run/nginx.conf", 'nothing was rendered');

    $l = launch(env => {CHATWOOT_BASE_URL => 'https://a.example.com', CHATWOOT_URL => 'https://b.example.com',
                        CHATWOOT_API_ACCESS_TOKEN => 'x-secretvalue43', CHATWOOT_API_TOKEN => 'y-secretvalue43',
                        RUN_DIR => $run});
    is(wait_exit($l, 30), 2, 'two spellings, different: exit 2');
    @err = split /\n/, slurp($l->{err});
    is_deeply([grep { /^CHATWOOT_/ } @err],
              ['CHATWOOT_URL and CHATWOOT_BASE_URL: both set and different; set one of them',
               'CHATWOOT_API_TOKEN and CHATWOOT_API_ACCESS_TOKEN: both set and different; set one of them',
               "CHATWOOT_ACCOUNT_ID: not set (the account id in Chatwoot's URLs, /app/accounts/<id>/...)",
               "CHATWOOT_INBOX_ID: not set (the API inbox's id, the number in its settings URL)"],
              'one line each: the clashing spellings, and what is missing');
    ok(!grep({ /secretvalue43/ } @err), 'no token value');

    # build.sh execs the launcher: the same answer through ./build.sh run
    # (after its build, which finds everything up to date).
    $l = launch(env => {CHATWOOT_URL => 'https://chatwoot.example.com', CHATWOOT_API_TOKEN => 'secretvalue44',
                        CHATWOOT_ACCOUNT_ID => '1', CHATWOOT_INBOX_ID => 'seven', RUN_DIR => $run},
                command => ["$ROOT/build.sh", 'run']);
    is(wait_exit($l, 600), 2, './build.sh run passes the environment to the launcher: exit 2');
    @err = split /\n/, slurp($l->{err});
    is_deeply([grep { /^CHATWOOT_/ } @err], ['CHATWOOT_INBOX_ID: must be a positive whole number (got "seven")'],
              './build.sh run: the launcher\'s one line');
}

###########################################################################
note 'environment mode: good values';

{
    my $secret_token = 'env-api-token-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 16);
    my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 3, token => $secret_token,
                                                 inbox => {id => 12, name => 'Support', secret => 'env-inbox-secret'});
    my $wa = ChatwootTest::WaMock->start($t);
    my $run = $t->dir . '/env';
    my $port = free_port();
    my %env = (CHATWOOT_BASE_URL => "http://127.0.0.1:$fake/", CHATWOOT_API_ACCESS_TOKEN => $secret_token,
               CHATWOOT_ACCOUNT_ID => 3, CHATWOOT_INBOX_ID => 12, CHATWOOT_DEVICE_ID => 'support-1',
               WHATSAPP_SERVER => $wa->url . ' root_key=' . $wa->root_key, PORT => $port, RUN_DIR => $run);

    # A configuration nginx refuses (here: a module that is not one) is
    # nginx -t's own words and exit 2, before nginx starts.
    my $not_a_module = $t->dir . '/not-a-module.so';
    open my $nm, '>', $not_a_module or die $!;
    print {$nm} "not ELF\n";
    close $nm;
    my $l = launch(env => \%env, command => ['perl', $LAUNCHER, '--module', $not_a_module]);
    is(wait_exit($l, 30), 2, 'nginx -t failing: exit 2');
    like(slurp($l->{err}), qr/^run: nginx -t refused .*nginx\.conf:\n  .*dlopen\(\)/m, "with nginx's error");
    ok(!grep({ /^(?:status|login page|webhook URL):/ } @{$l->{lines}}), 'and nothing started');

    # The first run: no secret, so a URL token.
    $l = launch(env => \%env);
    wait_line($l, qr/^nginx -t: \Q$run\E\/nginx\.conf is fine/, 30, 'nginx -t passes on the rendered conf');
    my ($login) = wait_line($l, qr{^login page: +(http://127\.0\.0\.1:$port/chatwoot/devices/support-1/login) }, 30,
                            'prints the login page');
    my ($hook, $url_token) = wait_line($l, qr{^webhook URL: (http://127\.0\.0\.1:$port/chatwoot/webhook\?token=([0-9a-f]{48}))$},
                                       5, 'prints the webhook URL, with a token');
    wait_line($l, qr/SAFE_FETCH_ALLOW_PRIVATE_NETWORK/, 5, 'says what Chatwoot needs to reach it');
    wait_line($l, qr/^WhatsApp device "support-1" waits to be linked/, 60, 'shows the QR on the terminal');
    my ($block) = wait_line($l, qr/([\x{2580}-\x{259f}]|\xe2\x96[\x80-\x9f])/, 5, 'drawn with block characters');

    my $conf = slurp("$run/nginx.conf");
    is(index($conf, $secret_token), -1, 'the conf holds no API token');
    like($conf, qr/^\s*api_token_file chatwoot-api-token;$/m, 'it names the token file');
    like($conf, qr/^\s*chatwoot_inbox support-1 \{$/m, 'the inbox block is named after CHATWOOT_DEVICE_ID');
    like($conf, qr{^\s*url http://127\.0\.0\.1:$fake/ check=60s;$}m, 'url from CHATWOOT_BASE_URL');
    like($conf, qr/^\s*account 3;/m, 'account');
    like($conf, qr/^\s*inbox 12;/m, 'inbox');
    like($conf, qr/^\s*listen 127\.0\.0\.1:$port;$/m, 'listen on PORT');
    is(slurp("$run/chatwoot-api-token"), "$secret_token\n", 'the token file holds the token');
    is((stat "$run/chatwoot-api-token")[2] & 07777, 0600, 'the token file is 0600');
    is((stat "$run/chatwoot-webhook-token")[2] & 07777, 0600, 'the URL token file is 0600');
    like($conf, qr/^\s*webhook_token_file chatwoot-webhook-token;$/m, 'the conf names the URL token file');
    my ($url_token) = slurp("$run/chatwoot-webhook-token") =~ /^(\S+)/;
    is(index($conf, $url_token), -1, 'and holds no URL token');
    my $test = `/usr/sbin/nginx -t -q -p '$run/' -c '$run/nginx.conf' -e /dev/stderr -g 'pid $run/t.pid;' 2>&1`;
    is($?, 0, 'nginx -t passes on the rendered conf (run by the test)') or diag $test;

    my ($code) = $t->http($port, 'GET', "/chatwoot/devices/support-1/login");
    is($code, 200, 'the login page answers');
    my $body = message_created(id => 501, inbox_id => 12, content => 'hi');
    my ($path) = $hook =~ m{^http://[^/]+(/.*)$};
    ($code) = $t->http($port, 'POST', $path, body => $body, headers => {'Content-Type' => 'application/json'});
    is($code, 202, 'a webhook to the printed URL is taken');
    ($code) = $t->http($port, 'POST', '/chatwoot/webhook', body => $body, headers => {'Content-Type' => 'application/json'});
    is($code, 401, 'and refused without its token');
    my @pids = descendants($l->{pid});
    interrupt_and_check($l, \@pids, [$port], 'environment mode');

    # The second run keeps the URL token: the URL pasted into Chatwoot
    # stays right; PUBLIC_URL says where Chatwoot finds this nginx.
    $l = launch(env => {%env, PUBLIC_URL => 'https://bridge.example.com/'});
    my ($again) = wait_line($l, qr{^webhook URL: (\S+)$}, 30, 'prints the webhook URL again');
    is($again, "https://bridge.example.com/chatwoot/webhook?token=$url_token",
       'the same token across runs, under PUBLIC_URL');
    @pids = descendants($l->{pid});
    interrupt_and_check($l, \@pids, [$port], 'second run');

    # With the inbox secret: signed webhooks, no URL token.
    $l = launch(env => {%env, CHATWOOT_WEBHOOK_SECRET => 'env-inbox-secret'});
    ($again) = wait_line($l, qr{^webhook URL: (\S+)$}, 30, 'prints the webhook URL with a secret');
    is($again, "http://127.0.0.1:$port/chatwoot/webhook", 'no token in the URL when the secret is given');
    $conf = slurp("$run/nginx.conf");
    like($conf, qr/^\s*webhook_secret_file chatwoot-webhook-secret;$/m, 'the conf names the secret file');
    is(index($conf, 'env-inbox-secret'), -1, 'and holds no secret');
    is((stat "$run/chatwoot-webhook-secret")[2] & 07777, 0600, 'the secret file is 0600');
    my $ts = time;
    ($code) = $t->http($port, 'POST', '/chatwoot/webhook', body => $body, headers => {
        'Content-Type' => 'application/json', 'X-Chatwoot-Timestamp' => int($ts),
        'X-Chatwoot-Delivery' => '6f1c1c4e-1d0b-4b8e-9d55-3c8a4f0e2a11',
        'X-Chatwoot-Signature' => 'sha256=' . hmac_sha256_hex(int($ts) . ".$body", 'env-inbox-secret')});
    is($code, 202, 'a webhook signed with the secret is taken');
    @pids = descendants($l->{pid});
    interrupt_and_check($l, \@pids, [$port], 'with a secret');

    # nginx ending on its own ends the launcher, with a line, and what nginx
    # left (workers, the helper) goes too.
    $l = launch(env => \%env);
    wait_line($l, qr{^webhook URL: }, 30, 'runs again');
    @pids = descendants($l->{pid});
    my ($master) = grep { (slurp("/proc/$_/stat") =~ /^\d+ \(.*\) \S+ (\d+)/s)[0] == $l->{pid} } @pids;
    kill 'KILL', $master;
    is(wait_exit($l, 30), 1, 'nginx killed: the launcher exits 1');
    like(slurp($l->{err}), qr/^run: nginx stopped on its own \(killed by signal 9\): stopping the rest$/m,
         'and says why');
    is_deeply([grep { alive($_) } @pids], [], 'nothing nginx started is left');
    ok(!port_open($port), 'its port is closed');
}

$t->stop_daemons;
done_testing;
