import { useEffect } from 'preact/hooks';
import { postSignal, refreshPost } from '../state/posts.js';
import { SkeletonPosts } from './Home.jsx';
import { PostCard } from './PostCard.jsx';

export function PostPage({ id }) {
  const postId = Number(id);
  const post = postSignal(postId).value;
  useEffect(() => {
    refreshPost(postId);
  }, [postId]);
  if (post === null) return <SkeletonPosts n={1} />;
  if (post.removed) {
    return (
      <section class="panel glass empty">
        <h1>Post not found</h1>
        <p>It was deleted, or it is hidden from you.</p>
      </section>
    );
  }
  return (
    <>
      <h1 class="page-title">Post</h1>
      <PostCard id={postId} openComments />
    </>
  );
}
