#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv){
  int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv); char b; ssize_t n; const char *w = argv[1];
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  if (!strcmp(w, "recvtimeo")) { struct timeval tv = {4, 0}; setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); n = recv(sv[0], &b, 1, 0); }
  else if (!strcmp(w, "recv")) { n = recv(sv[0], &b, 1, MSG_DONTWAIT); alarm(4); signal(SIGALRM, SIG_IGN); n = read(sv[0], &b, 1); }
  else if (!strcmp(w, "nanosleep")) { struct timespec ts = {4, 0}; n = nanosleep(&ts, NULL); }
  else if (!strcmp(w, "sigtimedwait")) { sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR2); sigprocmask(SIG_BLOCK, &s, 0); struct timespec ts = {4, 0}; n = sigtimedwait(&s, 0, &ts); }
  else if (!strcmp(w, "inotify")) { int fd = inotify_init(); inotify_add_watch(fd, "/tmp/rvw", IN_CREATE); alarm(4); n = read(fd, &b, 1); }
  else if (!strcmp(w, "epoll_pwait")) { int ep = epoll_create1(0); struct epoll_event ev = {.events = EPOLLIN}; epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev); n = epoll_wait(ep, &ev, 1, 4000); }
  else if (!strcmp(w, "pause")) { signal(SIGALRM, SIG_DFL); n = pause(); }
  else return 2;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%s: %zd %s after %.2fs\n", w, n, n < 0 ? strerror(errno) : "", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  free(malloc(1));
  return 0;
}
