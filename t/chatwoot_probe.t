# The url check: from its start and every check= interval, the helper asks
# each inbox's Chatwoot for GET /api/v1/profile with the inbox's token and
# looks for the inbox's account among the token's accounts, on libcurl
# multi, without blocking the queue.  What it finds shows in the status
# location ("check") and, when it is wrong, at error in the log as soon as
# the helper starts, before any message: a wrong URL, a wrong token, a token
# without the account, nobody listening.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use Test::More;

# nginx with one inbox (account 1) whose url and token are given; waits for
# the helper and returns the test object and the status port.
sub bridge {
    my (%o) = @_;
    my $t = ChatwootTest->new;
    my $fake = $o{fake_options}
        ? ChatwootTest::FakeChatwoot->spawn($t, %{$o{fake_options}}) : undef;
    my $url = $o{url} // "http://127.0.0.1:$fake/";
    $url =~ s/FAKE/$fake/ if $fake;
    my $port = free_port();
    $t->write_config($t->chatwoot_http(
        port => $port,
        inbox => { url => "$url check=1s",
                   ($o{api_token} ? (api_token => $o{api_token}) : ()) },
    ))->run;
    $t->wait_helper_running;
    return ($t, $fake);
}

# Status once at least $n checks are done.
sub checked {
    my ($t, $n) = @_;
    return $t->wait_for(sub { my $st = $t->status; $st->{chatwoot}{checks} >= $n ? $st : undef },
                        10, "$n checks");
}

sub logged {
    my ($t, $re, $name) = @_;
    ok(eval { $t->wait_for(sub { $t->read_file('error.log') =~ $re }, 10, $name) }, $name);
}

subtest 'a working Chatwoot, account and token' => sub {
    # Slow answers: the queue must not wait for them.  "localhost" goes
    # through curl's threaded resolver and its socketpair.
    my ($t, $fake) = bridge(fake_options => { account => 1, token => 'test-api-token',
                                              inbox => { id => 7 }, latency_ms => 300 },
                            url => 'http://localhost:FAKE/');
    my $port = $t->{status_port};
    my ($code) = $t->webhook($port, message_created(content => 'during-check'));
    is($code, 202, 'webhook accepted while the check is in flight');
    $t->wait_for(sub { $t->status->{store}{persisted} == 1 }, 2,
                 'persisted without waiting for the slow check');

    my $s = checked($t, 3);
    ok($s->{chatwoot}{configured}, 'status says Chatwoot is configured');
    is($s->{chatwoot}{check}, 'ok', 'the check is ok');
    is($s->{chatwoot}{last_http_status}, 200, 'the last check got 200');
    is($s->{chatwoot}{failures}, 0, 'no failure');
    ok(time - $s->{chatwoot}{last_checked_at} < 5, 'last check is recent');
    my @checks = grep { $_->{path} eq '/api/v1/profile' }
        @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
    ok(@checks >= 3, 'the fake saw the checks as GET /api/v1/profile');
    is($checks[0]{method}, 'GET', 'a GET');
    is($checks[0]{status}, 200, 'answered with the profile');
    is($checks[0]{user_agent}, 'ngx_http_chatwoot_module', 'with our user agent');
    unlike($t->read_file('error.log'), qr/\[(warn|error)\].*Chatwoot check/,
           'nothing to complain about');
    $t->finish;
};

subtest 'nobody listening' => sub {
    my $dead = free_port();
    my ($t) = bridge(url => "http://127.0.0.1:$dead/");
    my $s = $t->wait_for(sub { my $st = $t->status; $st->{chatwoot}{failures} >= 2 ? $st : undef },
                         10, 'two failed checks');
    is($s->{chatwoot}{check}, 'unreachable', 'status: unreachable');
    is($s->{chatwoot}{last_http_status}, 0, 'no HTTP status without an answer');
    logged($t, qr/\[error\].*inbox "main": Chatwoot check failed, unreachable: Couldn't connect to server/,
           'the first failure is logged at error');
    my @lines = $t->read_file('error.log') =~ /(Chatwoot check failed)/g;
    is(scalar @lines, 1, 'once, not at every check');
    $t->finish;
};

subtest 'a wrong token' => sub {
    my ($t, $fake) = bridge(fake_options => { account => 1, token => 'test-api-token' },
                            api_token => 'not-the-token');
    my $s = checked($t, 1);
    is($s->{chatwoot}{check}, 'unauthorized', 'status: unauthorized');
    is($s->{chatwoot}{last_http_status}, 401, 'Chatwoot said 401');
    is($s->{chatwoot}{failures}, 0, 'not a transport failure');
    logged($t, qr/\[error\].*inbox "main": Chatwoot check failed, unauthorized: .*api_token/,
           'logged at error at start, naming the token as the cause');
    is($s->{bridge}{whatsapp_posted} + $s->{bridge}{replies_sent}, 0, 'before any message');
    unlike($t->read_file('error.log'), qr/not-the-token|test-api-token/, 'no token in the log');
    $t->finish;
};

subtest 'a token without access to the account' => sub {
    # The token's user is a member of account 5 only; the inbox says 1.
    my ($t, $fake) = bridge(fake_options => { account => 5, token => 'test-api-token',
                                              foreign_accounts => [1] });
    my $s = checked($t, 1);
    is($s->{chatwoot}{check}, 'no_account_access', 'status: no_account_access');
    is($s->{chatwoot}{last_http_status}, 200, 'the profile itself was fine');
    logged($t, qr/\[error\].*inbox "main": Chatwoot check failed, no_account_access: the api_token's user is not a member of account 1/,
           'logged at error, naming the account');
    $t->finish;
};

subtest 'a URL that is not Chatwoot' => sub {
    # Chatwoot behind a path prefix the URL does not have: 404.
    my ($t, $fake) = bridge(fake_options => { account => 1, token => 'test-api-token' },
                            url => 'http://127.0.0.1:FAKE/chatwoot/');
    my $s = checked($t, 1);
    is($s->{chatwoot}{check}, 'bad_answer', 'status: bad_answer');
    is($s->{chatwoot}{last_http_status}, 404, 'a 404');
    logged($t, qr/\[error\].*inbox "main": Chatwoot check failed, bad_answer: 404 for \/api\/v1\/profile: url is not a Chatwoot installation's base URL/,
           'logged at error, saying what to fix');
    $t->finish;
};

done_testing;
