# libcurl multi in the helper's event loop: with chatwoot_url set, the helper
# checks Chatwoot at start and every check= interval, without blocking the
# queue; the result shows in the status location.  A fake Chatwoot counts
# the requests; an address nobody listens on counts as a failure.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;
use Time::HiRes qw(sleep);

my $fake_port = free_port();
my $t = ChatwootTest->new;
my $hits = $t->dir . '/hits';

$t->run_daemon(sub {
    require Mojolicious::Lite;
    require Mojo::Server::Daemon;
    my $app = Mojolicious->new;
    $app->log->level('fatal');
    $app->routes->get('/' => sub {
        my $c = shift;
        open my $fh, '>>', $hits or die $!;
        print {$fh} ($c->req->headers->user_agent // '-'), "\n";
        close $fh;
        # a slow answer must not hold the queue up
        Mojo::IOLoop->timer(0.3 => sub { $c->render(json => { version => '4.15.1' }) });
    });
    Mojo::Server::Daemon->new(app => $app, listen => ["http://127.0.0.1:$fake_port"],
                              silent => 1)->run;
});
$t->wait_port($fake_port);

my $port = free_port();
$t->write_config($t->chatwoot_http(
    port => $port,
    # "localhost" goes through curl's threaded resolver and its socketpair
    inbox => { url => "http://localhost:$fake_port/ check=1s" },
))->run;
$t->wait_helper_running;

my ($code) = $t->webhook($port, message_created(content => 'during-probe'));
is($code, 202, 'webhook accepted while the probe is in flight');
$t->wait_for(sub { $t->status->{store}{persisted} == 1 }, 2,
             'persisted without waiting for the slow probe');

my $s = $t->wait_for(sub { my $st = $t->status; $st->{chatwoot}{checks} >= 3 ? $st : undef },
                     10, 'three checks');
ok($s->{chatwoot}{configured}, 'status says Chatwoot is configured');
is($s->{chatwoot}{last_http_status}, 200, 'the last check got 200');
is($s->{chatwoot}{failures}, 0, 'no failure');
ok(time - $s->{chatwoot}{last_checked_at} < 5, 'last check is recent');
open my $fh, '<', $hits or die $!;
my @agents = <$fh>;
ok(@agents >= 3, 'the fake saw the checks');
is($agents[0], "ngx_http_chatwoot_module\n", 'with our user agent');
$t->finish;

# Nobody listening: failures are counted and logged at warn, nothing worse.
my $u = ChatwootTest->new;
my $dead = free_port();
$port = free_port();
$u->write_config($u->chatwoot_http(
    port => $port, inbox => { url => "http://127.0.0.1:$dead/ check=1s" }))->run;
$s = $u->wait_for(sub { my $st = $u->status; $st->{chatwoot}{failures} >= 2 ? $st : undef },
                  10, 'two failed checks');
is($s->{chatwoot}{last_http_status}, 0, 'no HTTP status without an answer');
like($u->read_file('error.log'), qr/\[warn\].*Chatwoot is not reachable: Couldn't connect to server/,
     'the failure is logged at warn');
$u->finish;

done_testing;
