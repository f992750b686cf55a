# The client version (whatsapp_version): the server answers an outdated
# client <failure reason="405">.
#   - auto (the default), the server refusing every login: the device
#     fetches the web client's page at whatsapp_server's host, tries once
#     more with the client_revision it names, then stops in error "client
#     outdated" with an error line naming whatsapp_version: no reconnect
#     storm;
#   - auto, a newer version enforced: the page's version logs in, and is
#     kept in the store for the next connections;
#   - pinned (whatsapp_version a.b.c) older than the enforced one: error
#     "client outdated" at once, the page not fetched.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $NEWER = '2.3000.1999999999';   # above the built-in version
my $OLD = '2.3000.1000000001';

my $t = ChatwootTest->new;
$t->allow_log(qr/\[error\].*inbox "main": WhatsApp refused client version/);
my ($port, $wa) = $t->start_wa;

my $p = $t->pair_qr($wa, 'main');
my ($d, $login, $qr) = @$p{qw(device login qr)};
$wa->wait(type => 'passive', conn => $login->{conn});
my $since;
my $builtin = $login->{client}{version};
like($builtin, qr/^2\.\d+\.\d+$/, "the built-in version: $builtin");

# Waits until the device has been in state $state for 3 s (the helper
# republishes every second; a reconnect would come within one) and checks
# that the mock saw no connection after event $after.
sub stays {
    my ($state, $after, $what) = @_;
    my $d = $t->wait_device('main', sub { $_[0]{state} eq $state && $_[0]{state_since}
                                          && time - $_[0]{state_since} >= 3 }, 15, "$what: $state for 3 s");
    is_deeply($wa->events(type => 'connected', since => $after), [], "$what: no connection after that");
    return $d;
}

# 1. auto, every login refused with 405.
$since = $wa->last_seq;
$wa->login_answer(405);
$wa->drop($login->{conn});
my $refused = $wa->wait(type => 'sent', tag => 'failure', since => $since, timeout => 20);
is($refused->{node}{attrs}{reason}, '405', '405: the mock refuses the login');
$d = $t->wait_device('main', 'error', 20);
is($d->{error}, 'client outdated', 'auto, 405: state error "client outdated"');
ok(eval { $t->wait_log(qr/\[error\].*inbox "main".*outdated.*"whatsapp_version"/) },
   'auto, 405: an error line naming whatsapp_version') or diag $@;
my @tries = @{$wa->events(type => 'handshake', since => $since)};
is(scalar @tries, 2, 'auto, 405: two tries, no storm');
is($tries[0]{client}{version}, $builtin, 'auto, 405: the first with the version it had');
my ($page) = @{$wa->events(type => 'version-page', since => $since)};
ok($page && $page->{seq} > $tries[0]{seq} && $page->{seq} < $tries[1]{seq},
   'auto, 405: then the page at whatsapp_server\'s host is fetched');
is($tries[1]{client}{version}, "2.3000.$page->{revision}", 'auto, 405: and the login tried once more with its version');
my $last = $wa->events(type => 'closed', since => $since)->[-1];
stays('error', $last->{seq}, 'auto, 405');
is(scalar @{$wa->events(type => 'version-page', since => $since)}, 1, 'auto, 405: the page fetched once');

# 2. auto, a newer version enforced: the page's version logs in, and is
# kept for the next connections.
$wa->login_answer(undef);
$wa->version(current => $NEWER, enforce => 1);
$t->stop;
$since = $wa->last_seq;
$t->run;
$t->wait_helper_running;
my $first = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($first->{client}{version}, $builtin, 'restart: the last version accepted first');
$wa->wait(type => 'outdated', since => $since);
$wa->wait(type => 'version-page', since => $first->{seq});
my $next = $wa->wait(type => 'handshake', since => $first->{seq});
is($next->{client}{version}, $NEWER, 'auto: logs in again with the version the page names');
$d = $t->wait_device('main', 'connected', 20);
ok(eval { $t->wait_log(qr/\[notice\].*inbox "main".*client version now \Q$NEWER\E/) },
   'auto: a notice line names the new version') or diag $@;
is($t->sql(q{SELECT CAST(value AS TEXT) FROM wa_device_values
             WHERE device = 'main' AND key = 'accepted_version'})->[0][0] // '',
   $NEWER, 'auto: the accepted version is kept in the store');
$since = $wa->last_seq;
$wa->drop($next->{conn});
my $later = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($later->{client}{version}, $NEWER, 'auto: the next connection uses it at once');
$t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} >= int($later->{at} / 1000) },
                20, 'connected with the kept version');
is_deeply($wa->events(type => 'version-page', since => $since), [], 'auto: no page fetched for it');

# 3. Pinned older than the enforced version: no page, error at once.
$t->wa_write_config(inbox => { extra => "        whatsapp_version $OLD;\n" });
$since = $wa->last_seq;
$t->reload;
my $pinned = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($pinned->{client}{version}, $OLD, 'pinned: the version of whatsapp_version');
$wa->wait(type => 'outdated', since => $since);
$d = $t->wait_device('main', sub { $_[0]{state} eq 'error' && $_[0]{state_since} }, 20, 'pinned: error');
is($d->{error}, 'client outdated', 'pinned, 405: state error "client outdated"');
ok(eval { $t->wait_log(qr/\[error\].*inbox "main".*refused client version \Q$OLD\E.*"whatsapp_version"/) },
   'pinned, 405: an error line naming the version and whatsapp_version') or diag $@;
stays('error', $wa->events(type => 'closed', since => $since)->[-1]{seq}, 'pinned, 405');
is(scalar @{$wa->events(type => 'handshake', since => $since)}, 1, 'pinned, 405: one try only');
is_deeply($wa->events(type => 'version-page', since => $since), [], 'pinned: the page is not fetched');

unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
