# The Debian package (./build.sh deb): lintian finds no error in it; dpkg -i
# puts the module where Debian's nginx finds it and enables it, and
# `nginx -t` passes Debian's own /etc/nginx with the package's example site;
# the state directory is www-data's, 0700; an operator who disabled the
# module keeps it disabled through a reinstall; dpkg -r leaves nothing of
# the package but the state directory, a reinstall after it enables the
# module again, and dpkg -P removes the state directory too.
#
# It changes this machine (dpkg, /etc/nginx), so it runs only as root with
# dpkg, and puts everything back however it ends (the END block).  It never
# starts the system's nginx: `nginx -t` only, and Debian's nginx reloads on
# the package's trigger only when it already runs.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Find ();
use Test::More;

my $PKG = 'libnginx-mod-http-chatwoot';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-chatwoot.conf';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-chatwoot.conf';
my $SO = '/usr/lib/nginx/modules/ngx_http_chatwoot_module.so';
my $STATE = '/var/lib/nginx/chatwoot';
my $SITE = '/etc/nginx/sites-enabled/zz-chatwoot-deb-test.conf';
my $EXAMPLE = "/usr/share/doc/$PKG/examples/chatwoot-site.conf";
my $ROOT = dirname(dirname(abs_path(__FILE__)));

sub have { my ($prog) = @_; return !system("command -v $prog >/dev/null 2>&1") }

plan skip_all => 'installs a package: needs root' if $> != 0;
plan skip_all => 'needs dpkg, dpkg-deb and /usr/sbin/nginx (Debian)'
    unless have('dpkg') && have('dpkg-deb') && -x '/usr/sbin/nginx' && -d '/etc/nginx/modules-enabled';
plan skip_all => 'needs lintian (./build.sh installs it)' unless have('lintian');

# The package's own state on this machine before the test: anything here
# is someone's installation (or a run killed with SIGKILL), not ours to
# remove.
sub pkg_status {
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null`;
    $s =~ s/\s+$//;
    return $s;
}
if (pkg_status() =~ /^.[^n]/ || -e $STATE || -l $ENABLED || -e $SITE) {
    plan skip_all => "$PKG is already on this machine (dpkg -P $PKG and rm -rf $STATE to run this test)";
}

# Put the machine back, whatever happened.
my $armed = 1;
sub restore {
    return unless $armed;
    $armed = 0;
    unlink $SITE;
    system("dpkg -P $PKG >/dev/null 2>&1") if pkg_status() =~ /^.[^n]/;
    unlink $ENABLED if -l $ENABLED;
    system('rm', '-rf', $STATE) if -e $STATE;
}
END { my $rc = $?; restore(); $? = $rc; }
# A signal stops the test, but never in the middle of a dpkg run: restore()
# would find dpkg's lock taken and the package half there, which the dpkg
# run would then finish after it.
our $in_child = 0;
my $stop = '';
$SIG{$_} = sub {
    $stop = "SIG$_[0]";
    die "killed by $stop\n" unless $in_child;
} for qw(INT TERM HUP);

sub run {
    my (@cmd) = @_;
    local $in_child = 1;
    my $out = `@cmd 2>&1`;
    my $rc = $? >> 8;
    die "killed by $stop\n" if $stop;
    return ($rc, $out);
}

# The package: the one ./build.sh deb made for the module under test, built
# now if missing or older than that module.
my $module = abs_path($ENV{CHATWOOT_MODULE} // "$ROOT/build/ngx_http_chatwoot_module.so");
my @debs = sort { -M $a <=> -M $b } glob("$ROOT/build/${PKG}_*.deb");
if (!@debs || (-e $module && -M $debs[0] > -M $module)) {
    my ($rc, $out) = run("cd '$ROOT' && ./build.sh deb");
    is($rc, 0, './build.sh deb') or diag $out;
    @debs = glob("$ROOT/build/${PKG}_*.deb");
}
my $deb = $debs[0];
ok($deb && -f $deb, 'the package exists') or BAIL_OUT('no package to test');
note "testing $deb";

# --- the package as a file ---------------------------------------------------

{
    my ($rc, $out) = run('lintian', '--fail-on', 'error', '--tag-display-limit', '0', $deb);
    my @errors = grep { /^E: / } split /\n/, $out;
    is($rc, 0, 'lintian passes') or diag $out;
    is(scalar @errors, 0, 'lintian reports no error') or diag join "\n", @errors;
    my @rest = grep { /^[WIP]: / } split /\n/, $out;
    diag "lintian: $_" for @rest;
}

my %field;
{
    my ($rc, $out) = run('dpkg-deb', '-f', $deb);
    is($rc, 0, 'dpkg-deb reads its control file');
    while ($out =~ /^([\w-]+): (.*(?:\n .*)*)/mg) { $field{$1} = $2 }
}
is($field{Package}, $PKG, 'package name');
like($field{Version}, qr/^\d+\.\d+\.\d+/, 'version from the project');
my $provides = `dpkg-query -W -f='\${Provides}' nginx`;
my ($abi) = $field{Depends} =~ /\b(nginx-abi-[\d.]+-\d+)\b/;
ok($abi, "Depends on an nginx ABI ($field{Depends})");
like($provides, qr/(?:^|, )\Q$abi\E(?:,|$)/, "the installed nginx provides $abi");
like($field{Depends}, qr/\blibsqlite3-0 \(>= /, 'Depends on the shared libraries (dpkg-shlibdeps)');
like($field{Depends}, qr/\blibcurl4 \(>= /, '... libcurl too');
like($field{Recommends} // '', qr/\bffmpeg\b/, 'Recommends ffmpeg (media become documents without it)');

# --- what each step leaves on the machine ------------------------------------

# Every path under the trees this package can touch (nginx's and the
# documentation's: every file it ships or makes lives there), with its
# type, mode, owner and link target.  Not the whole of /etc, /usr and
# /var/lib: other tests run side by side (prove -j) and the machine's own
# services may write there meanwhile.
sub snapshot {
    my %seen;
    File::Find::find({
        no_chdir => 1,
        preprocess => sub { grep { $_ ne '__pycache__' } @_ },
        wanted => sub {
            my $p = $File::Find::name;
            if ($p =~ m{^/var/lib/(?:dpkg|apt|ucf|systemd)$}) {
                $File::Find::prune = 1;
                return;
            }
            # nginx's temporary directories: every nginx started as root
            # (other tests, side by side with this one) gives them to its
            # worker user.
            if ($p =~ m{^/var/lib/nginx/(?:body|fastcgi|proxy|scgi|uwsgi)$}) {
                $File::Find::prune = 1;
                $seen{$p} = 'nginx temp';
                return;
            }
            my @st = lstat $p or return;
            my $what = sprintf '%o %d:%d', $st[2], $st[4], $st[5];
            $what .= ' -> ' . readlink $p if -l _;
            $seen{$p} = $what;
        },
    }, grep { -d } qw(/etc/nginx /usr/lib/nginx /usr/share/nginx /usr/share/doc /var/lib/nginx
                      /var/log/nginx));
    return \%seen;
}

# What changed between two snapshots: "+ path", "- path", "~ path" (type,
# mode, owner or link target); the details in the second list.
sub changes {
    my ($before, $after) = @_;
    my (@d, @why);
    for my $p (sort keys %$after) {
        if (!exists $before->{$p}) {
            push @d, "+ $p";
            push @why, "+ $p ($after->{$p})";
        } elsif ($before->{$p} ne $after->{$p}) {
            push @d, "~ $p";
            push @why, "~ $p ($before->{$p} => $after->{$p})";
        }
    }
    push @d, map { "- $_" } grep { !exists $after->{$_} } sort keys %$before;
    return (\@d, \@why);
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    return <$fh>;
}

sub nginx_t { return run('/usr/sbin/nginx', '-t', '-c', '/etc/nginx/nginx.conf') }

my $pid_before = read_file('/run/nginx.pid');
my $before = snapshot();

# --- dpkg -i ------------------------------------------------------------------

{
    my ($rc, $out) = run('dpkg', '-i', $deb);
    is($rc, 0, 'dpkg -i') or diag $out;
    unlike($out, qr/Starting nginx|Reloading nginx/i, 'nginx is neither started nor reloaded (it is not running)');
}
like(pkg_status(), qr/^ii/, 'installed');
ok(-f $SO, "the module is in $SO");
is(read_file($AVAILABLE), "load_module modules/ngx_http_chatwoot_module.so;\n",
    'modules-available has its load_module line');
is(readlink($ENABLED), $AVAILABLE, 'postinst enabled it (the modules-enabled link)');
{
    my @st = stat $STATE;
    ok(-d _, "postinst made $STATE");
    is(scalar getpwuid($st[4]), 'www-data', '... owned by www-data');
    is(scalar getgrgid($st[5]), 'www-data', '... group www-data');
    is(sprintf('%04o', $st[2] & 07777), '0700', '... mode 0700');
}
ok(-f "/usr/share/doc/$PKG/copyright", 'copyright file');
ok(-f "/usr/share/doc/$PKG/changelog.gz", 'changelog');
ok(-f $EXAMPLE, 'the example site');

# The example site, as an operator would use it, in Debian's own layout.
{
    my $site = read_file($EXAMPLE);
    like($site, qr/^\s*chatwoot_inbox \w+ \{/m, 'the example has an inbox');
    like($site, qr/^\s*chatwoot_webhook \w+/m, '... and a webhook location');
    open my $fh, '>', $SITE or die "$SITE: $!";
    print $fh $site;
    close $fh;
    my ($rc, $out) = nginx_t();
    is($rc, 0, 'nginx -t passes /etc/nginx with the example site') or diag $out;
    like($out, qr/test is successful/, '... and says so');
}

# An operator disables the module (removes the link): a reinstall of the
# package keeps it disabled, and nginx then rejects the module's directives
# (which shows that the link is what loads it).
unlink $ENABLED or die "$ENABLED: $!";
{
    my ($rc, $out) = run('dpkg', '-i', $deb);
    is($rc, 0, 'dpkg -i again (an upgrade to the same version)') or diag $out;
    ok(!-e $ENABLED && !-l $ENABLED, "the operator's choice stays: not enabled");
    ($rc, $out) = nginx_t();
    isnt($rc, 0, 'nginx -t fails without the module');
    like($out, qr/unknown directive "chatwoot_/, '... on the first chatwoot directive');
}

# --- dpkg -r, back again, dpkg -r, dpkg -P -----------------------------------

{
    my ($rc, $out) = run('dpkg', '-r', $PKG);
    is($rc, 0, 'dpkg -r') or diag $out;
    ($rc, $out) = run('dpkg', '-i', $deb);
    is($rc, 0, 'dpkg -i after dpkg -r') or diag $out;
    is(readlink($ENABLED), $AVAILABLE, 'installed again after a removal, it is enabled again');
    ($rc, $out) = nginx_t();
    is($rc, 0, 'nginx -t passes again') or diag $out;
}
# The helper's files, as it leaves them: they stay through dpkg -r.
open my $db, '>', "$STATE/chatwoot.db" or die $!;
close $db;
{
    my ($rc, $out) = run('dpkg', '-r', $PKG);
    is($rc, 0, 'dpkg -r') or diag $out;
}
unlink $SITE;
like(pkg_status(), qr/^rc/, 'removed, its configuration (the state directory) kept');
ok(!-e $SO && !-e $AVAILABLE, 'the module and its load_module file are gone');
ok(!-e $ENABLED && !-l $ENABLED, 'and the enabled link, with no leftover');
{
    my ($d, $why) = changes($before, snapshot());
    is_deeply($d, ["+ $STATE", "+ $STATE/chatwoot.db"], 'dpkg -r leaves nothing but the state directory')
        or diag join "\n", @$why;
}
ok(-f "$STATE/chatwoot.db", "the helper's store is still there");

{
    my ($rc, $out) = run('dpkg', '-P', $PKG);
    is($rc, 0, 'dpkg -P') or diag $out;
}
unlike(pkg_status(), qr/^.[^n]/, 'purged: dpkg knows nothing of it') or diag pkg_status();
{
    my ($d, $why) = changes($before, snapshot());
    is_deeply($d, [], 'dpkg -P leaves the machine as it was') or diag join "\n", @$why, @$d;
}
is(read_file('/run/nginx.pid'), $pid_before, "the system's nginx was not started");

restore();
done_testing();
